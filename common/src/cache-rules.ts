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

/** Path prefixes that are never cached. */
export const NEVER_CACHE_PATH_PREFIXES: readonly string[] = Object.freeze(['/wp-admin/', '/wp-json/']);

/** File names (the last path segment) that are never cached, wherever they sit. */
export const NEVER_CACHE_FILES: readonly string[] = Object.freeze([
  'wp-login.php',
  'xmlrpc.php',
  'wp-cron.php',
  'wp-comments-post.php',
  'admin-ajax.php',
]);

/** Query keys whose presence means "never cache" (previews). */
export const NEVER_CACHE_QUERY: readonly { key: string; value?: string }[] = Object.freeze([
  { key: 'preview', value: 'true' },
]);

/** Methods that may be served from or stored in the cache. */
export const CACHEABLE_METHODS: readonly string[] = Object.freeze(['GET', 'HEAD']);

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
