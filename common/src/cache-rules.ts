/**
 * The farm's HTML caching rules as data: the one source of truth for the edge worker (imported)
 * and the Varnish VCL (generated from these lists by infra). Pure; no runtime-specific APIs.
 *
 * Cookie families are exact names or exact prefixes. A loose `wordpress`/`wp-` prefix would
 * bypass anonymous visitors who only carry `wordpress_test_cookie` (the known failure of the
 * official edge-cache-html worker).
 */

/** A cookie-name pattern: `exact` matches the whole name, `prefix` its start. */
export interface CookiePattern {
  kind: 'exact' | 'prefix';
  name: string;
}

const prefix = (name: string): CookiePattern => ({ kind: 'prefix', name });
const exact = (name: string): CookiePattern => ({ kind: 'exact', name });

/** Cookies that mean "this visitor sees personal content": the request bypasses the cache. */
export const BYPASS_COOKIES: readonly CookiePattern[] = Object.freeze([
  prefix('wordpress_logged_in_'),
  prefix('wordpress_sec_'),
  prefix('wp-postpass_'),
  prefix('comment_author_'),
  prefix('wp_woocommerce_session_'),
  exact('woocommerce_items_in_cart'),
  exact('woocommerce_cart_hash'),
  exact('edd_items_in_cart'),
  // Cloudflare APO's extra families.
  prefix('xf_'),
  prefix('jetpack'),
  prefix('yith_wcwl_session_'),
  prefix('wpsc_'),
  prefix('ecwid'),
  prefix('bookly'),
]);

/** Cookies that never bypass nor fragment the cache (analytics, consent, WordPress housekeeping). */
export const IGNORED_COOKIES: readonly CookiePattern[] = Object.freeze([
  exact('wordpress_test_cookie'),
  prefix('wp-settings-'),
  prefix('_ga'),
  exact('_gid'),
  prefix('__utm'),
  exact('_fbp'),
  exact('has_js'),
  prefix('cookielawinfo'),
  prefix('CookieConsent'),
  prefix('cookieyes-consent'),
  prefix('cmplz_'),
  prefix('euconsent'),
  exact('OptanonConsent'),
  exact('OptanonAlertBoxClosed'),
  exact('geo'),
  prefix('geoip'),
]);

/** WooCommerce bypass cookies apply to every site; the pages below only in `woocommerce` mode. */
export const WOOCOMMERCE_PATH_PREFIXES: readonly string[] = Object.freeze([
  '/cart',
  '/checkout',
  '/my-account',
]);
export const WOOCOMMERCE_QUERY_KEYS: readonly string[] = Object.freeze(['add-to-cart', 'wc-ajax']);

/** Path prefixes that are never cached (matched on the normalised path, see `normalisePath`). */
export const NEVER_CACHE_PATH_PREFIXES: readonly string[] = Object.freeze(['/wp-admin/']);

/**
 * WordPress's REST API, in both of its spellings: `/wp-json/<route>` (pretty permalinks) and
 * `?rest_route=<route>` (always served, whatever the permalinks). One rule for the edge and the
 * VCL: a REST request is cached only where the site's policy says `restApiCache`.
 */
export const REST_API_PATH_PREFIX = '/wp-json/';
export const REST_API_QUERY_KEY = 'rest_route';

/** File names (the last path segment) that are never cached, wherever they sit. */
export const NEVER_CACHE_FILES: readonly string[] = Object.freeze([
  'wp-login.php',
  'xmlrpc.php',
  'wp-cron.php',
  'wp-comments-post.php',
  'admin-ajax.php',
]);

/**
 * Query keys whose presence, with any value, means "never cache" (`preview=1` and `preview=true`
 * both render a draft). Matched on the name PHP files the key under (`phpParamName`).
 */
export const NEVER_CACHE_QUERY_KEYS: readonly string[] = Object.freeze(['preview']);

/** Methods that may be served from or stored in the cache. */
export const CACHEABLE_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD']);

/**
 * Methods a visitor may use at all; anything else (PURGE, BAN, TRACE, PROPFIND…) is refused at
 * the edge with 405, so the purge methods Varnish honours can never arrive from the internet.
 */
export const VISITOR_METHODS: readonly string[] = Object.freeze([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
]);

/** Marketing parameters stripped from the cache key (exact keys, or prefixes ending with `*`). */
export const MARKETING_PARAMS: readonly string[] = Object.freeze([
  'utm_*',
  'fbclid',
  'gclid',
  'dclid',
  'msclkid',
  'mc_cid',
  'mc_eid',
  '_ga',
  '_ke',
  'ref',
  'fb_action_ids',
  'fb_action_types',
  'fb_source',
  'mkt_tok',
  'epik',
  'ck_subscriber_id',
]);

/** Functional parameters that must never be stripped (listed so a future edit cannot add them). */
export const FUNCTIONAL_PARAMS: readonly string[] = Object.freeze([
  'amp',
  'lang',
  's',
  'q',
  'p',
  'page',
  'paged',
  'page_id',
  'replytocom',
]);

/** Request headers that can poison a cache: dropped before the origin fetch. */
export const POISONING_HEADERS: readonly string[] = Object.freeze([
  'x-forwarded-host',
  'x-original-url',
  'x-rewrite-url',
  'x-host',
  'x-forwarded-server',
  'x-forwarded-scheme',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  // Proxy descriptions a visitor can forge: WordPress and its plugins build URLs and addresses
  // from them. The visitor's address travels only in X-Forwarded-For, which the edge sets itself.
  'forwarded',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-forwarded-ssl',
  'x-real-ip',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'client-ip',
]);

/**
 * Request headers of the Varnish purge interface (infra/varnish/default.vcl): stripped from every
 * visitor request at the edge and unset by the VCL on anything that is not a purge, so only the
 * purger ever sends them.
 */
export const PURGE_HEADERS: readonly string[] = Object.freeze([
  'x-purge-secret',
  'xkey-purge',
  'xkey-softpurge',
  'x-ban-host',
  'x-ban-url',
]);

/** The prefix of the farm's own hints (router → Varnish → router): never from a visitor. */
export const FARM_HEADER_PREFIX = 'x-farm-';

/**
 * Headers a stored page may `Vary` on: the cacheable fetch sets each from the key (the scheme,
 * the device variant's User-Agent), leaves it out for every key (Cookie, Accept, Origin), or the
 * cache negotiates it itself (Accept-Encoding). A `Vary` naming anything else means the page
 * depends on something the key does not hold: it is not stored (`varyOutsideKey`).
 */
export const VARY_WITHIN_KEY: readonly string[] = Object.freeze([
  'accept-encoding',
  'accept',
  'cookie',
  'origin',
  'user-agent',
  'x-forwarded-proto',
]);

/** Cache-status values of the `x-edge-cache` debug header. */
export type EdgeCacheStatus = 'HIT' | 'MISS' | 'STALE' | 'BYPASS' | 'EXPIRED';

/** Returns true when `name` matches one of `patterns`. */
export function matchesCookie(name: string, patterns: readonly CookiePattern[]): boolean {
  for (const p of patterns) {
    if (p.kind === 'exact' ? name === p.name : name.startsWith(p.name)) return true;
  }
  return false;
}

/** True when `key` is a marketing parameter that must not reach the cache key. */
export function isMarketingParam(key: string): boolean {
  for (const m of MARKETING_PARAMS) {
    if (m.endsWith('*') ? key.startsWith(m.slice(0, -1)) : key === m) return true;
  }
  return false;
}

/**
 * The first header a `Vary` value names that the key does not hold (`*` included), or undefined
 * when the page may be stored.
 * @example varyOutsideKey('Accept-Encoding, Accept-Language') // 'accept-language'
 */
export function varyOutsideKey(vary: string | null | undefined): string | undefined {
  if (!vary) return undefined;
  for (const raw of vary.split(',')) {
    const name = raw.trim().toLowerCase();
    if (name && !VARY_WITHIN_KEY.includes(name)) return name;
  }
  return undefined;
}

/**
 * The name PHP files a (percent-decoded) query key under in `$_GET`, so `rest.route`,
 * ` rest_route`, `rest[route` and `rest_route[]` all count as `rest_route`: leading spaces
 * dropped, the part before `[…]` for an array, spaces, dots and a lone `[` turned into `_`, and
 * cut at a NUL (PHP's names are C strings).
 */
export function phpParamName(raw: string): string {
  let name = raw;
  const nul = name.indexOf('\0');
  if (nul >= 0) name = name.slice(0, nul);
  name = name.replace(/^ +/, '');
  const open = name.indexOf('[');
  if (open > 0 && name.indexOf(']', open) > open) name = name.slice(0, open);
  return name.replace(/[ .[]/g, '_');
}

/** True when a query holds `key` under any spelling PHP files as that name. */
export function hasPhpParam(query: URLSearchParams, key: string): boolean {
  for (const k of query.keys()) if (phpParamName(k) === key) return true;
  return false;
}

/**
 * A path as the web server and WordPress resolve it, for rule matching only (the request keeps
 * its own spelling): percent-escapes decoded (repeatedly, so `%255F` cannot hide a `_`), runs of
 * slashes collapsed, dot segments resolved, lower case (a rule is never weaker for that).
 * @example normalisePath('//__EDGE/%68ealth') // '/__edge/health'
 */
export function normalisePath(path: string): string {
  let p = path;
  for (let i = 0; i < 4 && /%[0-9a-f]{2}/i.test(p); i++) {
    p = p.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  }
  const out: string[] = [];
  for (const seg of p.split(/[/\\]+/)) {
    if (seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const joined = out.join('/');
  const trailing = /[/\\]$/.test(p) && !joined.endsWith('/') ? '/' : '';
  return (joined.startsWith('/') ? joined : `/${joined}`).concat(trailing).toLowerCase();
}

/** Which spelling makes a request a REST API call, if any: the path or the query key. */
export function restApiSpelling(
  normalisedPath: string,
  query: URLSearchParams,
): 'path' | 'query' | undefined {
  const bare = REST_API_PATH_PREFIX.slice(0, -1);
  if (normalisedPath === bare || normalisedPath.startsWith(REST_API_PATH_PREFIX)) return 'path';
  if (hasPhpParam(query, REST_API_QUERY_KEY)) return 'query';
  return undefined;
}

/**
 * The same REST resource in WordPress's other spelling, site-relative, for purges (a cache holds
 * the two spellings apart): `/wp-json/wp/v2/posts/7?context=view` ↔
 * `/?rest_route=%2Fwp%2Fv2%2Fposts%2F7&context=view`. Undefined for anything else (a site served
 * from a subfolder included).
 */
export function restApiOtherSpelling(url: URL): string | undefined {
  const bare = REST_API_PATH_PREFIX.slice(0, -1);
  const query = new URLSearchParams(url.search);
  if (url.pathname === bare || url.pathname.startsWith(REST_API_PATH_PREFIX)) {
    const route = url.pathname.slice(bare.length) || '/';
    return `/?${new URLSearchParams([[REST_API_QUERY_KEY, route], ...query]).toString()}`;
  }
  const route = query.get(REST_API_QUERY_KEY);
  if (route === null || (url.pathname !== '/' && url.pathname !== '/index.php')) return undefined;
  query.delete(REST_API_QUERY_KEY);
  const rest = query.toString();
  return `${bare}${route.startsWith('/') ? route : `/${route}`}${rest ? `?${rest}` : ''}`;
}
