/**
 * Whether a request may be served from or stored in the edge cache, and if not, why. Pure: the
 * reasons become `x-edge-cache-reason` (e.g. `cookie:wordpress_logged_in`, `path:/wp-admin/`).
 */
import {
  CACHEABLE_METHODS,
  NEVER_CACHE_FILES,
  NEVER_CACHE_PATH_PREFIXES,
  NEVER_CACHE_QUERY,
  WOOCOMMERCE_PATH_PREFIXES,
  WOOCOMMERCE_QUERY_KEYS,
} from '@wpfarm/common/cache-rules';
import type { SitePolicy } from '@wpfarm/common/registry/schema';
import { classifyCookies } from './cookies.ts';

export interface RequestFacts {
  method: string;
  url: URL;
  cookie: string | null;
  authorization: boolean;
}

export type RequestVerdict = { cache: true } | { cache: false; reason: string };

/**
 * Decides cache eligibility: method, Authorization, never-cache paths and queries, WooCommerce
 * pages (in woocommerce mode), then cookies (the farm's families plus the site's extras).
 */
export function requestPolicy(req: RequestFacts, policy: SitePolicy): RequestVerdict {
  if (!CACHEABLE_METHODS.includes(req.method)) return { cache: false, reason: 'method' };
  if (req.authorization) return { cache: false, reason: 'authorization' };
  const path = req.url.pathname;
  for (const prefix of NEVER_CACHE_PATH_PREFIXES) {
    if (prefix === '/wp-json/' && policy.restApiCache) continue;
    if (path.startsWith(prefix) || path === prefix.slice(0, -1))
      return { cache: false, reason: `path:${prefix}` };
  }
  const file = path.slice(path.lastIndexOf('/') + 1);
  if (NEVER_CACHE_FILES.includes(file)) return { cache: false, reason: `path:${file}` };
  const q = req.url.searchParams;
  for (const rule of NEVER_CACHE_QUERY) {
    const v = q.get(rule.key);
    if (v !== null && (rule.value === undefined || v === rule.value))
      return { cache: false, reason: `query:${rule.key}` };
  }
  if (policy.woocommerce) {
    for (const prefix of WOOCOMMERCE_PATH_PREFIXES) {
      if (path === prefix || path.startsWith(`${prefix}/`)) return { cache: false, reason: `path:${prefix}` };
    }
    for (const key of WOOCOMMERCE_QUERY_KEYS) if (q.has(key)) return { cache: false, reason: `query:${key}` };
  }
  const cookies = classifyCookies(req.cookie, policy.extraBypassCookies);
  if (cookies.bypass) return { cache: false, reason: `cookie:${cookies.bypass}` };
  return { cache: true };
}
