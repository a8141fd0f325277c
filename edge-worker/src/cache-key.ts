/**
 * The cache key: one Cache API URL per (scheme, host, site version, device variant, path,
 * functional query). Marketing parameters are stripped, everything else stays, in a stable order.
 */
import { isMarketingParam } from '@wpfarm/common/cache-rules';

export type Device = 'any' | 'mobile' | 'desktop';

/** The same test WordPress's wp_is_mobile() makes, so the origin and the edge agree on "mobile". */
const MOBILE_UA = /Mobile|Android|Silk\/|Kindle|BlackBerry|Opera Mini|Opera Mobi/;

/** The device variant of a request: `any` unless the site caches variants apart. */
export function deviceVariant(userAgent: string | null | undefined, variants: boolean): Device {
  if (!variants) return 'any';
  return userAgent && MOBILE_UA.test(userAgent) ? 'mobile' : 'desktop';
}

/**
 * The User-Agent a cacheable fetch sends for a device variant: the origin renders for the variant,
 * never for one visitor's browser. The mobile one passes WordPress's wp_is_mobile() test (and
 * `MOBILE_UA`); the other two do not.
 */
const DEVICE_USER_AGENTS: Record<Device, string> = {
  any: 'Mozilla/5.0 (X11; Linux x86_64) wpfarm-edge/1',
  desktop: 'Mozilla/5.0 (X11; Linux x86_64) wpfarm-edge/1',
  mobile: 'Mozilla/5.0 (Linux; Android 14) Mobile wpfarm-edge/1',
};

/** The User-Agent of a device variant's cacheable fetch. */
export function deviceUserAgent(device: Device): string {
  return DEVICE_USER_AGENTS[device];
}

/** Every device variant a URL may be stored under, for URL purges. */
export function deviceVariants(variants: boolean): Device[] {
  return variants ? ['mobile', 'desktop'] : ['any'];
}

/**
 * The query string that identifies a page: marketing parameters dropped, the rest sorted by
 * name (stable for repeated names), so `?b=1&a=2` and `?a=2&b=1&utm_source=x` share one entry.
 * @example keyQuery('?utm_source=x&paged=2') // '?paged=2'
 */
export function keyQuery(search: string): string {
  if (search.length <= 1) return '';
  const params = new URLSearchParams(search);
  const kept: [string, string][] = [];
  for (const [k, v] of params) if (!isMarketingParam(k)) kept.push([k, v]);
  if (kept.length === 0) return '';
  kept.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return `?${new URLSearchParams(kept).toString()}`;
}

/** The site-relative part of a key (`/path?query`), also what URL purges record. */
export function pageKey(url: URL): string {
  return url.pathname + keyQuery(url.search);
}

export interface KeyParts {
  scheme: string;
  host: string;
  version: number;
  device: Device;
  page: string;
}

/**
 * The Cache API key URL. It stays on the visitor's host (the zone the Cache API scopes entries
 * to) under a reserved prefix that no visitor request can reach through the worker.
 */
export function cacheKeyUrl(k: KeyParts): string {
  return `https://${k.host}/__edge-cache/${k.scheme}/v${k.version}/${k.device}${k.page}`;
}
