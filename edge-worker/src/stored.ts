/**
 * How entries sit in the Cache API: the origin response with the edge's metadata in headers and
 * a Cache-Control long enough for stale serving; and how they are turned back for the browser,
 * which gets the origin's own Cache-Control.
 */
import type { EdgeCacheStatus } from '@wpfarm/common/cache-rules';
import type { Lifetimes } from './response-policy.ts';

const H = {
  stored: 'x-edge-stored',
  ttl: 'x-edge-ttl',
  swr: 'x-edge-swr',
  sie: 'x-edge-sie',
  tags: 'x-edge-tags',
  cc: 'x-edge-origin-cc',
} as const;
const NO_CC = '-';
/** Tags kept per entry (Cloudflare's Cache-Tag header allows 16 KB). */
const MAX_TAGS = 64;

/** The tags an origin response carries: `Cache-Tag` (comma-separated), else `xkey` (space-separated). */
export function responseTags(headers: Headers): string[] {
  const raw = headers.get('cache-tag') ?? headers.get('xkey')?.replaceAll(' ', ',') ?? '';
  return raw
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .slice(0, MAX_TAGS);
}

/** The response to `cache.put`: same body, metadata headers, Cache-Control covering the stale windows. */
export function toStored(res: Response, l: Lifetimes, tags: string[], now: number): Response {
  const out = new Response(res.body, res);
  // The metadata is the edge's own: never keep a value the origin happened to send.
  for (const h of Object.values(H)) out.headers.delete(h);
  out.headers.set(H.stored, String(now));
  out.headers.set(H.ttl, String(l.ttl));
  out.headers.set(H.swr, String(l.swr));
  out.headers.set(H.sie, String(l.sie));
  if (tags.length) out.headers.set(H.tags, tags.join(','));
  out.headers.set(H.cc, res.headers.get('cache-control') ?? NO_CC);
  out.headers.set('cache-control', `public, max-age=${l.ttl + Math.max(l.swr, l.sie)}`);
  return out;
}

export interface StoredMeta extends Lifetimes {
  stored: number;
  tags: string[];
}

/** Reads the metadata of a stored entry; undefined for anything the edge did not write. */
export function readMeta(res: Response): StoredMeta | undefined {
  const stored = Number(res.headers.get(H.stored));
  const ttl = Number(res.headers.get(H.ttl));
  const swr = Number(res.headers.get(H.swr));
  const sie = Number(res.headers.get(H.sie));
  if (![stored, ttl, swr, sie].every(Number.isFinite) || stored <= 0) return undefined;
  const tags = (res.headers.get(H.tags) ?? '').split(',').filter(Boolean);
  return { stored, ttl, swr, sie, tags };
}

/** Adds the debug headers every response carries. */
export function withStatus(res: Response, status: EdgeCacheStatus, reason: string): Response {
  const out = new Response(res.body, res);
  out.headers.set('x-edge-cache', status);
  out.headers.set('x-edge-cache-reason', reason);
  return out;
}

/**
 * The browser's view of a response (stored or fresh from the origin): origin Cache-Control back,
 * edge metadata and Cache-Tag removed, `age` set, debug headers added, no body for HEAD.
 */
export function toClient(
  res: Response,
  status: EdgeCacheStatus,
  reason: string,
  opts: { head: boolean; now: number },
): Response {
  const headers = new Headers(res.headers);
  const cc = headers.get(H.cc);
  const stored = Number(headers.get(H.stored));
  if (cc !== null) {
    if (cc === NO_CC) headers.delete('cache-control');
    else headers.set('cache-control', cc);
  }
  if (stored > 0) headers.set('age', String(Math.max(0, Math.floor((opts.now - stored) / 1000))));
  for (const h of Object.values(H)) headers.delete(h);
  headers.delete('cache-tag');
  headers.set('x-edge-cache', status);
  headers.set('x-edge-cache-reason', reason);
  return new Response(opts.head ? null : res.body, {
    status: res.status,
    statusText: res.statusText,
    headers,
  });
}
