/**
 * Whether a request may be served from or stored in the edge cache, and if not, why. Pure: the
 * reasons become `x-edge-cache-reason` (e.g. `cookie:wordpress_logged_in`, `path:/wp-admin/`).
 * Paths are matched on their normalised form and query keys on the name PHP files them under, so
 * `//wp-admin/`, `/wp%2Djson/` or `?rest.route=` cannot slip past a rule WordPress would honour.
 */
import {
  CACHEABLE_METHODS,
  hasPhpParam,
  NEVER_CACHE_FILES,
  NEVER_CACHE_PATH_PREFIXES,
  NEVER_CACHE_QUERY_KEYS,
  normalisePath,
  REST_API_PATH_PREFIX,
  REST_API_QUERY_KEY,
  restApiSpelling,
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
 * Decides cache eligibility: method, Authorization, never-cache paths, the REST API in either
 * spelling (unless the site caches it), never-cache files and queries, WooCommerce pages (in
 * woocommerce mode), then cookies (the farm's families plus the site's extras).
 */
export function requestPolicy(req: RequestFacts, policy: SitePolicy): RequestVerdict {
  if (!CACHEABLE_METHODS.includes(req.method)) return { cache: false, reason: 'method' };
  if (req.authorization) return { cache: false, reason: 'authorization' };
  const path = normalisePath(req.url.pathname);
  const q = req.url.searchParams;
  for (const prefix of NEVER_CACHE_PATH_PREFIXES) {
    if (path.startsWith(prefix) || path === prefix.slice(0, -1))
      return { cache: false, reason: `path:${prefix}` };
  }
  if (!policy.restApiCache) {
    const rest = restApiSpelling(path, q);
    if (rest === 'path') return { cache: false, reason: `path:${REST_API_PATH_PREFIX}` };
    if (rest === 'query') return { cache: false, reason: `query:${REST_API_QUERY_KEY}` };
  }
  const file = path.slice(path.lastIndexOf('/') + 1);
  if (NEVER_CACHE_FILES.includes(file)) return { cache: false, reason: `path:${file}` };
  for (const key of NEVER_CACHE_QUERY_KEYS)
    if (hasPhpParam(q, key)) return { cache: false, reason: `query:${key}` };
  if (policy.woocommerce) {
    for (const prefix of WOOCOMMERCE_PATH_PREFIXES) {
      if (path === prefix || path.startsWith(`${prefix}/`)) return { cache: false, reason: `path:${prefix}` };
    }
    for (const key of WOOCOMMERCE_QUERY_KEYS)
      if (hasPhpParam(q, key)) return { cache: false, reason: `query:${key}` };
  }
  const cookies = classifyCookies(req.cookie, policy.extraBypassCookies);
  if (cookies.bypass) return { cache: false, reason: `cookie:${cookies.bypass}` };
  return { cache: true };
}
