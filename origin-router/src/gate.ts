/**
 * The checks every request passes at the door, before any routing: URL length, request
 * framing, declared body size; and the one renderer of the router's own error answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PURGE_HEADERS, VISITOR_METHODS } from '@wpfarm/common/cache-rules';
import type { Config } from './config.ts';
import { RouterError } from './errors.ts';
import { framingProblem } from './framing.ts';

/** The first door check that fails, or undefined. */
export function doorCheck(req: IncomingMessage, limits: Config['limits']): RouterError | undefined {
  const url = req.url ?? '';
  if (url.length > limits.maxUrlBytes)
    return new RouterError('URL_TOO_LONG', { detail: `${url.length} bytes` });
  // node:http keeps the first of two Host headers; a proxy that routed on the other would
  // disagree with us about the site (RFC 9112 §3.2: more than one Host is a 400).
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2)
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host' && ++hosts > 1)
      return new RouterError('DUPLICATE_HOST');
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

/**
 * The request target in origin form (`/path?query`) to route and forward, or the error. An
 * absolute-form target (`GET http://site/...`) is accepted only when its authority is the Host
 * header: otherwise the router would serve the Host's site a request meant for another (RFC 9112
 * §3.2.2 lets a server prefer the authority; refusing the mismatch keeps one answer to "which
 * site"). `*` and authority forms have no page to forward.
 * @example requestTarget('http://a.test/x?y', 'a.test') // '/x?y'
 */
export function requestTarget(url: string, host: string | undefined): string | RouterError {
  if (url.charCodeAt(0) === 47 /* / */) return url;
  const m = /^https?:\/\/([^/?#]*)(.*)$/i.exec(url);
  if (!m) return new RouterError('BAD_TARGET', { detail: 'not origin or absolute form' });
  const authority = m[1]!.toLowerCase();
  if (authority.includes('@') || authority !== (host ?? '').toLowerCase())
    return new RouterError('BAD_TARGET', { detail: 'authority differs from Host' });
  const rest = m[2]!;
  return rest.startsWith('/') ? rest : `/${rest}`;
}

const PURGE_HEADER_LENGTHS: ReadonlySet<number> = new Set(PURGE_HEADERS.map((n) => n.length));
const PURGE_HEADER_SET: ReadonlySet<string> = new Set(PURGE_HEADERS);
const VISITOR_METHOD_SET: ReadonlySet<string> = new Set(VISITOR_METHODS);
const ALLOW = VISITOR_METHODS.join(', ');

/**
 * The front's refusal of Varnish's purge interface from the edge path: a method no visitor uses
 * (PURGE, BAN, TRACE…: 405) or a purge header (`x-purge-secret`, `xkey-purge`, `x-ban-host`…:
 * 400). Varnish honours them from the routers' network, so only the purger, which talks to Varnish
 * directly, may send them (lists in @wpfarm/common/cache-rules, shared with the edge and the VCL).
 */
export function purgeRefusal(method: string, raw: readonly string[]): RouterError | undefined {
  if (!VISITOR_METHOD_SET.has(method))
    return new RouterError('METHOD_NOT_ALLOWED', { detail: method, allow: ALLOW });
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (PURGE_HEADER_LENGTHS.has(name.length) && PURGE_HEADER_SET.has(name.toLowerCase()))
      return new RouterError('PURGE_HEADER', { detail: name.toLowerCase() });
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
  if (err.allow !== undefined) headers.allow = err.allow;
  if (closeConnection) headers.connection = 'close';
  res.writeHead(err.status, headers);
  res.end(body);
}
