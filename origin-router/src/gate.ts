/**
 * The checks every request passes at the door, before any routing: URL length, request
 * framing, declared body size; and the one renderer of the router's own error answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from './config.ts';
import { RouterError } from './errors.ts';
import { framingProblem } from './framing.ts';

/** The first door check that fails, or undefined. */
export function doorCheck(req: IncomingMessage, limits: Config['limits']): RouterError | undefined {
  const url = req.url ?? '';
  if (url.length > limits.maxUrlBytes)
    return new RouterError('URL_TOO_LONG', { detail: `${url.length} bytes` });
  const h = req.headers;
  const cl = h['content-length'];
  if (cl !== undefined || h['transfer-encoding'] !== undefined) {
    const problem = framingProblem(req.rawHeaders);
    if (problem) return new RouterError('BAD_FRAMING', { detail: problem });
    if (cl !== undefined && Number(cl) > limits.maxBodyBytes)
      return new RouterError('BODY_TOO_LARGE', { detail: `${cl} bytes > ${limits.maxBodyBytes}` });
  }
  return undefined;
}

/** True when the request may carry a body (declared length > 0 or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  return (
    h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')
  );
}

/**
 * A chunked body that stops with BODY_TOO_LARGE once it passes `max` bytes: the declared
 * length is checked at the door, a chunked one only as it streams.
 */
export async function* limitBody(req: IncomingMessage, max: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > max) throw new RouterError('BODY_TOO_LARGE', { detail: `more than ${max} bytes` });
    yield chunk;
  }
}

/** Writes the router's own answer for `err` (or a generic 502) unless headers already went out. */
export function renderError(
  res: ServerResponse,
  err: RouterError,
  requestId: string,
  closeConnection: boolean,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${err.status} ${err.code}\n`;
  const headers: Record<string, string | number> = {
    'content-type': 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-router-error': err.code,
    'x-request-id': requestId,
  };
  if (err.retryAfter !== undefined) headers['retry-after'] = err.retryAfter;
  if (closeConnection) headers.connection = 'close';
  res.writeHead(err.status, headers);
  res.end(body);
}
