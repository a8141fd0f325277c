import { createConnection } from 'node:net';

export interface RawResult {
  /** Status of the first response, 0 when none came. */
  status: number;
  /** How many HTTP responses came back on the connection. */
  responses: number;
  closed: boolean;
  text: string;
}

/**
 * Writes `payload` on a raw TCP connection (what no client library would send) and collects
 * what comes back until the server closes or `waitMs` passes. With `trickle`, keeps sending that
 * line every `trickleMs` (a slowloris client) until the server gives up.
 */
export function rawRequest(
  port: number,
  payload: string,
  opts: { trickle?: string; trickleMs?: number; waitMs?: number } = {},
): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host: '127.0.0.1' });
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearInterval(timer);
      clearTimeout(wait);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({
        status: m ? Number(m[1]) : 0,
        responses: (text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length,
        closed,
        text,
      });
    };
    const wait = setTimeout(() => finish(false), opts.waitMs ?? 15_000);
    sock.on('data', (d) => {
      text += d.toString('latin1');
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.write(payload);
    if (opts.trickle)
      timer = setInterval(() => sock.writable && sock.write(opts.trickle!), opts.trickleMs ?? 200);
  });
}
