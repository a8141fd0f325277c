import { createHash } from 'node:crypto';
import { createConnection } from 'node:net';

/**
 * A minimal Varnish CLI client (the protocol varnishadm speaks): enough to read `pid`, whose
 * master/worker pids change when varnishd or its child restarts, emptying a malloc cache.
 * Auth: the server sends a 32-byte challenge; we answer sha256(challenge \n secret challenge \n).
 */
export async function varnishIdentity(
  host: string,
  port: number,
  secret: Buffer,
  timeoutMs: number,
): Promise<string> {
  const sock = createConnection({ host, port });
  sock.setTimeout(timeoutMs);
  let buf = Buffer.alloc(0);
  let waiting: ((r: { status: number; body: string }) => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  const done = new Promise<never>((_, reject) => {
    failed = reject;
  });
  done.catch(() => {});
  const tryParse = () => {
    const nl = buf.indexOf(10);
    if (nl < 0 || !waiting) return;
    const m = /^(\d{3}) +(\d+)/.exec(buf.subarray(0, nl).toString());
    if (!m) return failed?.(new Error('varnish CLI: bad response header'));
    const len = Number(m[2]);
    if (buf.length < nl + 1 + len + 1) return;
    const body = buf.subarray(nl + 1, nl + 1 + len).toString();
    buf = buf.subarray(nl + 1 + len + 1);
    const w = waiting;
    waiting = undefined;
    w({ status: Number(m[1]), body });
  };
  sock.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    tryParse();
  });
  sock.on('timeout', () => failed?.(new Error('varnish CLI: timeout')));
  sock.on('error', (e) => failed?.(e));
  sock.on('close', () => failed?.(new Error('varnish CLI: connection closed')));
  const next = () =>
    Promise.race([
      new Promise<{ status: number; body: string }>((resolve) => {
        waiting = resolve;
        tryParse();
      }),
      done,
    ]);
  try {
    let res = await next();
    if (res.status === 107) {
      const challenge = res.body.slice(0, 32);
      const answer = createHash('sha256')
        .update(`${challenge}\n`)
        .update(secret)
        .update(`${challenge}\n`)
        .digest('hex');
      sock.write(`auth ${answer}\n`);
      res = await next();
    }
    if (res.status !== 200) throw new Error(`varnish CLI: auth failed (${res.status})`);
    sock.write('pid\n');
    res = await next();
    if (res.status !== 200) throw new Error(`varnish CLI: pid failed (${res.status})`);
    // "Master: 123\nWorker: 456": both change on a restart that empties the cache.
    return res.body.replace(/\s+/g, ' ').trim();
  } finally {
    sock.destroy();
  }
}
