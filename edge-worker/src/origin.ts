/**
 * The edge → origin fetch: poisoning and hop-by-hop headers dropped, the edge secret, the
 * normalised host and a traceparent added, a timeout on every fetch.
 */
import { POISONING_HEADERS } from '@wpfarm/common/cache-rules';
import { EDGE_AUTH_HEADER, EDGE_HOST_HEADER } from '@wpfarm/common/contracts/edge-auth';
import type { EdgeConfig } from './config.ts';
import { formatTraceparent, type TraceContext } from './traceparent.ts';

const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
];
/** Headers a visitor must not be able to set on the origin request. */
const EDGE_OWNED = [EDGE_AUTH_HEADER, EDGE_HOST_HEADER, 'traceparent', 'tracestate', 'x-forwarded-proto'];

export interface OriginRequestOptions {
  /** The normalised host the visitor asked for. */
  host: string;
  trace: TraceContext;
  /** False on cacheable fetches: the stored page must not depend on any visitor's cookies. */
  forwardCookies: boolean;
  /** Override the method (HEAD is fetched as GET so the entry has a body). */
  method?: string;
}

/** Builds the origin request from the visitor's request. */
export function originRequest(req: Request, cfg: EdgeConfig, opts: OriginRequestOptions): Request {
  const url = new URL(req.url);
  const target = cfg.originUrl ? `${cfg.originUrl}${url.pathname}${url.search}` : url.toString();
  const headers = new Headers(req.headers);
  for (const h of POISONING_HEADERS) headers.delete(h);
  for (const h of HOP_BY_HOP) headers.delete(h);
  for (const h of EDGE_OWNED) headers.delete(h);
  if (!opts.forwardCookies) headers.delete('cookie');
  headers.set(EDGE_AUTH_HEADER, cfg.edgeAuthKey);
  headers.set(EDGE_HOST_HEADER, opts.host);
  headers.set('x-forwarded-proto', url.protocol.slice(0, -1));
  headers.set('traceparent', formatTraceparent(opts.trace));
  const method = opts.method ?? req.method;
  const hasBody = method !== 'GET' && method !== 'HEAD';
  return new Request(target, {
    method,
    headers,
    body: hasBody ? req.body : null,
    redirect: 'manual',
  });
}

/** Why an origin fetch produced no response. */
export class OriginFailure extends Error {
  readonly kind: 'timeout' | 'network';
  constructor(kind: 'timeout' | 'network', cause: unknown) {
    super(`origin ${kind}`, { cause });
    this.kind = kind;
  }
}

/** Fetches with a deadline on the response head. @throws OriginFailure */
export async function fetchOrigin(req: Request, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(req, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const name = (err as Error)?.name;
    throw new OriginFailure(name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network', err);
  }
}
