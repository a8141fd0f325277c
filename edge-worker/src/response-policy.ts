/**
 * Whether an origin response may be stored, for how long, and how fresh a stored entry is. Pure.
 * TTLs come from the site's policy; the browser still gets the origin's own Cache-Control.
 */
import { varyOutsideKey } from '@wpfarm/common/cache-rules';
import type { SitePolicy } from '@wpfarm/common/registry/schema';

/** How long an entry is fresh, then servable stale while one refresh runs, then servable on error. */
export interface Lifetimes {
  ttl: number;
  swr: number;
  sie: number;
}

export type ResponseVerdict = ({ store: true } & Lifetimes) | { store: false; reason: string };

/** Statuses stored for the full HTML TTL; 301/404/410 only for the site's short TTL. */
const FULL_TTL = new Set([200, 203]);
const SHORT_TTL = new Set([301, 404, 410]);

/**
 * Decides whether to store a response: never with Set-Cookie, `private`, `no-store`, `no-cache`,
 * a `Vary` naming a header outside the key (`*` included), or a 5xx; other statuses (302, 403, 206…) are passed on, not stored.
 */
export function responsePolicy(status: number, headers: Headers, policy: SitePolicy): ResponseVerdict {
  if (status >= 500) return { store: false, reason: `origin:${status}` };
  if (headers.has('set-cookie')) return { store: false, reason: 'origin:set-cookie' };
  const cc = (headers.get('cache-control') ?? '').toLowerCase();
  for (const directive of ['private', 'no-store', 'no-cache'] as const) {
    if (hasDirective(cc, directive)) return { store: false, reason: `origin:${directive}` };
  }
  // The key holds scheme, host, device and page; a page that varies on anything else (the
  // visitor's language, address…) would be served to visitors it was not made for.
  const outside = varyOutsideKey(headers.get('vary'));
  if (outside === '*') return { store: false, reason: 'origin:vary-star' };
  if (outside) return { store: false, reason: `origin:vary:${outside}` };
  let ttl: number;
  if (FULL_TTL.has(status)) ttl = policy.htmlTtl;
  else if (SHORT_TTL.has(status)) ttl = Math.min(policy.shortTtl, policy.htmlTtl || policy.shortTtl);
  else return { store: false, reason: `origin:status-${status}` };
  const verdict = { store: true as const, ttl, swr: policy.staleWhileRevalidate, sie: policy.staleIfError };
  if (ttl + Math.max(verdict.swr, verdict.sie) <= 0) return { store: false, reason: 'policy:ttl-0' };
  return verdict;
}

function hasDirective(cc: string, directive: string): boolean {
  if (!cc) return false;
  return cc.split(',').some((d) => d.trim().split('=')[0] === directive);
}

/** What a stored entry of a given age may be used for. */
export type Freshness = 'fresh' | 'stale' | 'error-only' | 'dead';

/**
 * Classifies an entry by age (seconds): fresh within ttl; servable while one background refresh
 * runs within ttl+swr; servable only if the origin fails within ttl+sie; otherwise dead.
 */
export function freshness(ageSeconds: number, l: Lifetimes): Freshness {
  if (ageSeconds < l.ttl) return 'fresh';
  if (ageSeconds < l.ttl + l.swr) return 'stale';
  if (ageSeconds < l.ttl + l.sie) return 'error-only';
  return 'dead';
}
