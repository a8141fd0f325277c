/**
 * The edge → origin fetches. Two kinds:
 * - a **pass** (a request the cache must not touch) carries the visitor's request minus what a
 *   visitor must never set: forged proxy headers, hop-by-hop headers, the edge's own headers, the
 *   Varnish purge headers and the farm's `x-farm-*` hints;
 * - a **cacheable fetch** (a MISS, and every background refresh) is built from the cache key
 *   alone: the stored page can only depend on what its key holds, whoever missed first, and a
 *   refresh cannot inherit a visitor's `Range`, conditionals or language.
 * Both carry the edge secret, the normalised host, the scheme and a new traceparent; the visitor's
 * address travels only as `X-Forwarded-For`, taken from `CF-Connecting-IP` (replacing, never
 * appending to, whatever the client sent).
 */
import { FARM_HEADER_PREFIX, POISONING_HEADERS, PURGE_HEADERS } from '@wpfarm/common/cache-rules';
import { EDGE_AUTH_HEADER, EDGE_HOST_HEADER } from '@wpfarm/common/contracts/edge-auth';
import { type Device, deviceUserAgent } from './cache-key.ts';
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
const EDGE_OWNED = [
  EDGE_AUTH_HEADER,
  EDGE_HOST_HEADER,
  'traceparent',
  'tracestate',
  'x-forwarded-proto',
  'x-forwarded-for',
  'cf-connecting-ip',
];

/** The visitor's address as Cloudflare saw it, or undefined when absent or not an IP literal. */
export function visitorAddress(req: Request): string | undefined {
  const ip = req.headers.get('cf-connecting-ip')?.trim() ?? '';
  // An IPv4 dotted quad or an IPv6 literal: nothing else may reach the origin's address chain.
  if (/^(\d{1,3}\.){3}\d{1,3}$/.test(ip) || (/^[0-9a-f:.]+$/i.test(ip) && ip.includes(':'))) return ip;
  return undefined;
}

interface EdgeHeaderFacts {
  host: string;
  scheme: string;
  trace: TraceContext;
  /** The visitor's address (X-Forwarded-For); none on a background refresh. */
  address: string | undefined;
}

function setEdgeHeaders(headers: Headers, cfg: EdgeConfig, f: EdgeHeaderFacts): void {
  headers.set(EDGE_AUTH_HEADER, cfg.edgeAuthKey);
  headers.set(EDGE_HOST_HEADER, f.host);
  headers.set('x-forwarded-proto', f.scheme);
  headers.set('traceparent', formatTraceparent(f.trace));
  if (f.address) {
    headers.set('x-forwarded-for', f.address);
    headers.set('cf-connecting-ip', f.address);
  }
}

function target(cfg: EdgeConfig, scheme: string, host: string, pathAndQuery: string): string {
  return cfg.originUrl ? `${cfg.originUrl}${pathAndQuery}` : `${scheme}://${host}${pathAndQuery}`;
}

/** The visitor's headers with everything a visitor must not send to the origin removed. */
export function visitorHeaders(req: Request): Headers {
  const headers = new Headers(req.headers);
  for (const h of POISONING_HEADERS) headers.delete(h);
  for (const h of HOP_BY_HOP) headers.delete(h);
  for (const h of EDGE_OWNED) headers.delete(h);
  for (const h of PURGE_HEADERS) headers.delete(h);
  for (const name of [...headers.keys()]) if (name.startsWith(FARM_HEADER_PREFIX)) headers.delete(name);
  return headers;
}

/** A request the cache does not touch: the visitor's method, cookies and body, cleaned headers. */
export function passRequest(
  req: Request,
  cfg: EdgeConfig,
  opts: { host: string; trace: TraceContext },
): Request {
  const url = new URL(req.url);
  const scheme = url.protocol.slice(0, -1);
  const headers = visitorHeaders(req);
  setEdgeHeaders(headers, cfg, { host: opts.host, scheme, trace: opts.trace, address: visitorAddress(req) });
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  return new Request(target(cfg, scheme, opts.host, url.pathname + url.search), {
    method: req.method,
    headers,
    body: hasBody ? req.body : null,
    redirect: 'manual',
  });
}

/** The parts of a cache key a cacheable fetch is built from (the version only selects the entry). */
export interface KeyedPage {
  scheme: string;
  host: string;
  device: Device;
  /** The key's page: path and functional query (marketing parameters gone, sorted). */
  page: string;
}

/** What a cacheable fetch is built from: the parts of the cache key, plus tracing and the address. */
export interface KeyedFetch extends KeyedPage {
  trace: TraceContext;
  /** The visitor's address on a MISS; undefined on a background refresh. */
  address: string | undefined;
}

/**
 * A cacheable fetch (GET, no cookies, no visitor headers): the User-Agent is the device variant's
 * own, so WordPress's `wp_is_mobile()` agrees with the key and a `Vary: User-Agent` page is keyed.
 */
export function keyedRequest(cfg: EdgeConfig, k: KeyedFetch): Request {
  const headers = new Headers({ 'user-agent': deviceUserAgent(k.device) });
  setEdgeHeaders(headers, cfg, k);
  return new Request(target(cfg, k.scheme, k.host, k.page), { method: 'GET', headers, redirect: 'manual' });
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
