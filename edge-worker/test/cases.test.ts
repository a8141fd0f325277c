/**
 * The edge's behaviour as a table, run in workerd against the real demo origin. Each case may
 * first send priming requests, then sends the request under test, and checks the status, the
 * `x-edge-cache` verdict and reason, and how many requests reached the origin (by `x-case`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { originCalls, type SendInit, seedHostMap, send } from './helpers.ts';

interface Case {
  name: string;
  url: string;
  init?: SendInit;
  /** Requests sent first (same case id), e.g. to fill the cache. Defaults to the request's URL. */
  prime?: { url?: string; init?: SendInit }[];
  status?: number;
  cache: 'HIT' | 'MISS' | 'STALE' | 'BYPASS' | 'EXPIRED';
  reason?: string;
  /** Origin requests for the whole case (priming included). */
  origin: number;
  /** Extra check on the final response. */
  check?: (r: { headers: Headers; body: string }) => void;
}

const A = 'https://alpha.test';
const B = 'https://beta.test';
const G = 'https://gamma.test';
const ck = (cookie: string): SendInit => ({ headers: { cookie } });
const MOBILE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148';
const DESKTOP = 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0';
const ua = (agent: string): SendInit => ({ headers: { 'user-agent': agent } });
const warm = [{}];

const CASES: Case[] = [
  // Cookies: exact families bypass, ignored ones neither bypass nor fragment.
  {
    name: 'anonymous first request is a MISS',
    url: `${A}/p/`,
    cache: 'MISS',
    reason: 'not-cached',
    origin: 1,
  },
  {
    name: 'anonymous repeat is a HIT',
    url: `${A}/p/`,
    prime: warm,
    cache: 'HIT',
    reason: 'fresh',
    origin: 1,
  },
  {
    name: 'logged-in cookie bypasses a cached page',
    url: `${A}/p/`,
    prime: warm,
    init: ck('wordpress_logged_in_abc=admin'),
    cache: 'BYPASS',
    reason: 'cookie:wordpress_logged_in',
    origin: 2,
  },
  {
    name: 'wordpress_sec_ bypasses',
    url: `${A}/p/`,
    init: ck('wordpress_sec_abc=1'),
    cache: 'BYPASS',
    reason: 'cookie:wordpress_sec',
    origin: 1,
  },
  {
    name: 'wp-postpass_ bypasses',
    url: `${A}/p/`,
    init: ck('wp-postpass_abc=1'),
    cache: 'BYPASS',
    reason: 'cookie:wp-postpass',
    origin: 1,
  },
  {
    name: 'comment_author_ bypasses',
    url: `${A}/p/`,
    init: ck('comment_author_abc=Ann'),
    cache: 'BYPASS',
    reason: 'cookie:comment_author',
    origin: 1,
  },
  {
    name: 'wp_woocommerce_session_ bypasses',
    url: `${A}/p/`,
    init: ck('wp_woocommerce_session_abc=1'),
    cache: 'BYPASS',
    reason: 'cookie:wp_woocommerce_session',
    origin: 1,
  },
  {
    name: 'woocommerce_items_in_cart bypasses',
    url: `${A}/p/`,
    prime: warm,
    init: ck('woocommerce_items_in_cart=1'),
    cache: 'BYPASS',
    reason: 'cookie:woocommerce_items_in_cart',
    origin: 2,
  },
  {
    name: 'woocommerce_cart_hash bypasses',
    url: `${A}/p/`,
    init: ck('woocommerce_cart_hash=x'),
    cache: 'BYPASS',
    reason: 'cookie:woocommerce_cart_hash',
    origin: 1,
  },
  {
    name: 'edd_items_in_cart bypasses',
    url: `${A}/p/`,
    init: ck('edd_items_in_cart=1'),
    cache: 'BYPASS',
    reason: 'cookie:edd_items_in_cart',
    origin: 1,
  },
  {
    name: 'APO family xf_ bypasses',
    url: `${A}/p/`,
    init: ck('xf_session=1'),
    cache: 'BYPASS',
    reason: 'cookie:xf',
    origin: 1,
  },
  {
    name: 'only wordpress_test_cookie and _ga is a HIT',
    url: `${A}/p/`,
    prime: warm,
    init: ck('wordpress_test_cookie=WP%20Cookie%20check; _ga=GA1.2.3'),
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'wordpress_test_cookie alone is cacheable from the first request',
    url: `${A}/p/`,
    init: ck('wordpress_test_cookie=WP%20Cookie%20check'),
    cache: 'MISS',
    origin: 1,
  },
  {
    name: 'wp-settings cookies are a HIT',
    url: `${A}/p/`,
    prime: warm,
    init: ck('wp-settings-1=x; wp-settings-time-1=1700000000'),
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'consent cookie is a HIT',
    url: `${A}/p/`,
    prime: warm,
    init: ck('CookieConsent={necessary:true}; cmplz_marketing=allow'),
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'analytics cookies are a HIT',
    url: `${A}/p/`,
    prime: warm,
    init: ck('_gid=1; __utma=1; _fbp=fb.1; has_js=1'),
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'an unknown cookie neither bypasses nor fragments',
    url: `${A}/p/`,
    prime: warm,
    init: ck('theme_pref=dark'),
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'a loose wordpress prefix is not a family',
    url: `${A}/p/`,
    prime: warm,
    init: ck('wordpressuser_x=1'),
    cache: 'HIT',
    origin: 1,
  },
  {
    name: "a site's extra bypass cookie bypasses on that site",
    url: `${G}/p/`,
    init: ck('pmpro_visit=1'),
    cache: 'BYPASS',
    reason: 'cookie:pmpro_visit',
    origin: 1,
  },
  {
    name: "a site's extra bypass cookie is ignored on other sites",
    url: `${A}/p/`,
    prime: warm,
    init: ck('pmpro_visit=1'),
    cache: 'HIT',
    origin: 1,
  },
  // Query strings: marketing parameters share the bare entry; functional and unknown ones do not.
  {
    name: 'utm_source shares the bare URL entry',
    url: `${A}/q/?utm_source=news`,
    prime: [{ url: `${A}/q/` }],
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'fbclid shares the bare URL entry',
    url: `${A}/q/?fbclid=IwAR0abc`,
    prime: [{ url: `${A}/q/` }],
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'gclid and utm_medium together share the bare entry',
    url: `${A}/q/?gclid=x&utm_medium=cpc`,
    prime: [{ url: `${A}/q/` }],
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'amp is its own entry',
    url: `${A}/q/?amp=1`,
    prime: [{ url: `${A}/q/` }],
    cache: 'MISS',
    origin: 2,
  },
  {
    name: 'lang is its own entry',
    url: `${A}/q/?lang=de`,
    prime: [{ url: `${A}/q/` }],
    cache: 'MISS',
    origin: 2,
  },
  {
    name: 's is its own entry',
    url: `${A}/q/?s=hello`,
    prime: [{ url: `${A}/q/` }],
    cache: 'MISS',
    origin: 2,
  },
  {
    name: 'paged is its own entry',
    url: `${A}/q/?paged=2`,
    prime: [{ url: `${A}/q/` }],
    cache: 'MISS',
    origin: 2,
  },
  {
    name: 'an unknown parameter stays in the key',
    url: `${A}/q/?color=red`,
    prime: [{ url: `${A}/q/` }],
    cache: 'MISS',
    origin: 2,
  },
  {
    name: 'parameter order does not fragment',
    url: `${A}/q/?b=2&a=1`,
    prime: [{ url: `${A}/q/?a=1&b=2` }],
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'marketing parameters stripped beside functional ones',
    url: `${A}/q/?utm_campaign=x&paged=3`,
    prime: [{ url: `${A}/q/?paged=3` }],
    cache: 'HIT',
    origin: 1,
  },
  // Methods and request headers.
  {
    name: 'POST is never cached',
    url: `${A}/m/`,
    prime: warm,
    init: { method: 'POST', body: 'a=1' },
    cache: 'BYPASS',
    reason: 'method',
    origin: 2,
  },
  {
    name: 'PUT is never cached',
    url: `${A}/m/`,
    init: { method: 'PUT', body: 'a=1' },
    cache: 'BYPASS',
    reason: 'method',
    origin: 1,
  },
  {
    name: 'Authorization is never cached',
    url: `${A}/m/`,
    prime: warm,
    init: { headers: { authorization: 'Basic YTpi' } },
    cache: 'BYPASS',
    reason: 'authorization',
    origin: 2,
  },
  {
    name: 'HEAD is served from the GET entry, without a body',
    url: `${A}/h/`,
    prime: warm,
    init: { method: 'HEAD' },
    cache: 'HIT',
    origin: 1,
    check: (r) => expect(r.body).toBe(''),
  },
  {
    name: 'a HEAD miss fills the entry GET then hits',
    url: `${A}/h/`,
    prime: [{ init: { method: 'HEAD' } }],
    cache: 'HIT',
    origin: 1,
    check: (r) => expect(r.body).toContain('<html'),
  },
  // Paths and queries that are never cached.
  {
    name: '/wp-admin/ bypasses',
    url: `${A}/wp-admin/`,
    status: 302,
    cache: 'BYPASS',
    reason: 'path:/wp-admin/',
    origin: 1,
  },
  {
    name: '/wp-json/ bypasses by default',
    url: `${A}/wp-json/wp/v2/posts`,
    prime: warm,
    cache: 'BYPASS',
    reason: 'path:/wp-json/',
    origin: 2,
  },
  {
    name: '/wp-json/ is cached where the site opts in',
    url: `${G}/wp-json/wp/v2/posts`,
    prime: warm,
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'preview=true bypasses',
    url: `${A}/?p=12&preview=true`,
    prime: warm,
    cache: 'BYPASS',
    reason: 'query:preview',
    origin: 2,
  },
  {
    name: 'wp-login.php bypasses',
    url: `${A}/wp-login.php`,
    cache: 'BYPASS',
    reason: 'path:wp-login.php',
    origin: 1,
  },
  {
    name: 'wp-cron.php bypasses',
    url: `${A}/wp-cron.php`,
    cache: 'BYPASS',
    reason: 'path:wp-cron.php',
    origin: 1,
  },
  {
    name: 'WooCommerce /cart bypasses in woocommerce mode',
    url: `${B}/cart/`,
    cache: 'BYPASS',
    reason: 'path:/cart',
    origin: 1,
  },
  {
    name: 'WooCommerce /checkout bypasses in woocommerce mode',
    url: `${B}/checkout/`,
    cache: 'BYPASS',
    reason: 'path:/checkout',
    origin: 1,
  },
  {
    name: 'add-to-cart bypasses in woocommerce mode',
    url: `${B}/shop/?add-to-cart=5`,
    cache: 'BYPASS',
    reason: 'query:add-to-cart',
    origin: 1,
  },
  {
    name: 'wc-ajax bypasses in woocommerce mode',
    url: `${B}/?wc-ajax=get_refreshed_fragments`,
    cache: 'BYPASS',
    reason: 'query:wc-ajax',
    origin: 1,
  },
  // Origin directives.
  {
    name: 'Set-Cookie responses are never stored',
    url: `${A}/set-cookie/`,
    prime: warm,
    cache: 'BYPASS',
    reason: 'origin:set-cookie',
    origin: 2,
  },
  {
    name: 'private responses are never stored',
    url: `${A}/private/`,
    prime: warm,
    cache: 'BYPASS',
    reason: 'origin:private',
    origin: 2,
    check: (r) => expect(r.headers.get('cache-control')).toBe('private, max-age=0'),
  },
  {
    name: 'a cart page outside woocommerce mode is refused by its Set-Cookie',
    url: `${A}/cart/`,
    cache: 'BYPASS',
    reason: 'origin:set-cookie',
    origin: 1,
  },
  {
    name: '404 is cached briefly',
    url: `${A}/missing-page/`,
    prime: warm,
    status: 404,
    cache: 'HIT',
    origin: 1,
  },
  {
    name: '301 is cached briefly',
    url: `${A}/old-page/`,
    prime: warm,
    status: 301,
    cache: 'HIT',
    origin: 1,
    check: (r) => expect(r.headers.get('location')).toBe('http://alpha.test/new-page/'),
  },
  {
    name: 'the browser gets the origin Cache-Control, not the edge one',
    url: `${A}/cc/`,
    prime: warm,
    cache: 'HIT',
    origin: 1,
    check: (r) => expect(r.headers.get('cache-control')).toBeNull(),
  },
  {
    name: 'Cache-Tag is not shown to browsers',
    url: `${A}/ct/`,
    cache: 'MISS',
    origin: 1,
    check: (r) => expect(r.headers.get('cache-tag')).toBeNull(),
  },
  // Device variants.
  {
    name: 'mobile and desktop are apart where the site asks',
    url: `${B}/d/`,
    prime: [{ init: ua(DESKTOP) }],
    init: ua(MOBILE),
    cache: 'MISS',
    origin: 2,
  },
  {
    name: 'the same device variant hits',
    url: `${B}/d/`,
    prime: [{ init: ua(MOBILE) }],
    init: ua(MOBILE),
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'without variants mobile shares the desktop entry',
    url: `${A}/d/`,
    prime: [{ init: ua(DESKTOP) }],
    init: ua(MOBILE),
    cache: 'HIT',
    origin: 1,
  },
  // Hosts.
  {
    name: 'an unknown host is refused without an origin fetch',
    url: 'https://nope.test/',
    status: 421,
    cache: 'BYPASS',
    reason: 'host:unknown',
    origin: 0,
    check: (r) => expect(r.headers.get('x-edge-block')).toBe('host:unknown'),
  },
  {
    name: 'an IP host is unknown',
    url: 'https://203.0.113.7/',
    status: 421,
    cache: 'BYPASS',
    reason: 'host:unknown',
    origin: 0,
  },
  {
    name: 'a redirecting alias answers 301 at the edge',
    url: 'https://www.alpha.test/a/?x=1',
    status: 301,
    cache: 'BYPASS',
    reason: 'host:alias-redirect',
    origin: 0,
    check: (r) => expect(r.headers.get('location')).toMatch(/^https:\/\/alpha\.test\/a\/\?x=1&case=c\d+$/),
  },
  {
    name: 'a served alias is proxied under its own host',
    url: 'https://shop.beta.test/a/',
    cache: 'MISS',
    origin: 1,
  },
  {
    name: 'host case, port and trailing dot are normalised',
    url: 'https://ALPHA.test.:8443/n/',
    prime: [{ url: `${A}/n/` }],
    cache: 'HIT',
    origin: 1,
  },
  {
    name: 'reserved edge paths are never forwarded',
    url: `${A}/__edge-cache/https/v0/any/`,
    status: 404,
    cache: 'BYPASS',
    reason: 'path:reserved',
    origin: 0,
  },
  // Bot gate: probes answered at the edge.
  {
    name: '/.env is a probe',
    url: `${A}/.env`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:.env',
    origin: 0,
  },
  {
    name: 'encoded /%2eenv is a probe',
    url: `${A}/%2eenv`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:.env',
    origin: 0,
  },
  {
    name: '/.git/ is a probe',
    url: `${A}/.git/config`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:.git',
    origin: 0,
  },
  {
    name: 'wp-config.php backups are probes',
    url: `${A}/wp-config.php.bak`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:wp-config-backup',
    origin: 0,
  },
  {
    name: '*.sql is a probe',
    url: `${A}/backup/db.sql`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:.sql',
    origin: 0,
  },
  {
    name: '*.bak is a probe',
    url: `${A}/index.php.bak`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:backup-file',
    origin: 0,
  },
  {
    name: 'debug.log is a probe',
    url: `${A}/wp-content/debug.log`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:debug.log',
    origin: 0,
  },
  {
    name: 'phpinfo is a probe',
    url: `${A}/phpinfo.php`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:phpinfo',
    origin: 0,
  },
  {
    name: 'dotfiles are probes',
    url: `${A}/.htaccess`,
    status: 404,
    cache: 'BYPASS',
    reason: 'probe:dotfile',
    origin: 0,
  },
  { name: '/.well-known/ is not a probe', url: `${A}/.well-known/security.txt`, cache: 'MISS', origin: 1 },
  {
    name: 'xmlrpc.php is blocked where the site does not allow it',
    url: `${A}/xmlrpc.php`,
    init: { method: 'POST', body: '<x/>' },
    status: 403,
    cache: 'BYPASS',
    reason: 'xmlrpc:disabled',
    origin: 0,
  },
  {
    name: 'xmlrpc.php passes where the site allows it',
    url: `${G}/xmlrpc.php`,
    init: { method: 'POST', body: '<x/>', headers: { 'cf-connecting-ip': '198.51.100.40' } },
    status: 200,
    cache: 'BYPASS',
    reason: 'method',
    origin: 1,
  },
  {
    name: 'an unverified Googlebot is refused when bot data is present',
    url: `${A}/b/`,
    init: {
      headers: { 'user-agent': 'Googlebot/2.1' },
      cf: { botManagement: { verifiedBot: false, score: 1 } },
    },
    status: 403,
    cache: 'BYPASS',
    reason: 'bot:fake-googlebot',
    origin: 0,
  },
  {
    name: 'an unverified Bingbot is refused when bot data is present',
    url: `${A}/b/`,
    init: {
      headers: { 'user-agent': 'Mozilla/5.0 (compatible; bingbot/2.0)' },
      cf: { botManagement: { verifiedBot: false } },
    },
    status: 403,
    cache: 'BYPASS',
    reason: 'bot:fake-bingbot',
    origin: 0,
  },
  {
    name: 'a Googlebot UA without bot data is unknown, not bad',
    url: `${A}/b/`,
    init: { headers: { 'user-agent': 'Googlebot/2.1' } },
    cache: 'MISS',
    origin: 1,
  },
  {
    name: 'a verified bot passes',
    url: `${A}/b/`,
    init: { headers: { 'user-agent': 'Googlebot/2.1' }, cf: { botManagement: { verifiedBot: true } } },
    cache: 'MISS',
    origin: 1,
  },
  {
    name: 'a blocklisted User-Agent is refused',
    url: `${A}/b/`,
    init: { headers: { 'user-agent': 'sqlmap/1.7' } },
    status: 403,
    cache: 'BYPASS',
    reason: 'ua:sqlmap',
    origin: 0,
  },
  {
    name: 'the purge path refuses other methods',
    url: `${A}/__edge/purge`,
    status: 405,
    cache: 'BYPASS',
    reason: 'method',
    origin: 0,
  },
];

/** Gives each case its own cache entries (an unknown parameter stays in the key) and origin count. */
function scoped(url: string, id: string): string {
  const u = new URL(url);
  if (!u.pathname.includes('/__edge')) u.searchParams.set('case', id);
  return u.toString();
}

function withCase(init: SendInit | undefined, id: string): SendInit {
  const headers = new Headers(init?.headers);
  headers.set('x-case', id);
  return { ...init, headers };
}

describe('edge behaviour table', () => {
  beforeAll(() => seedHostMap());

  it('has at least 50 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(50);
  });

  CASES.forEach((c, i) => {
    const id = `c${i}`;
    it(c.name, async () => {
      for (const p of c.prime ?? []) {
        const r = await send(scoped(p.url ?? c.url, id), withCase(p.init, id));
        expect(r.headers.get('x-edge-cache')).toBeTruthy();
      }
      const r = await send(scoped(c.url, id), withCase(c.init, id));
      expect({ cache: r.headers.get('x-edge-cache'), status: r.status }).toEqual({
        cache: c.cache,
        status: c.status ?? 200,
      });
      expect(r.headers.get('x-edge-cache-reason')).toBeTruthy();
      if (c.reason) expect(r.headers.get('x-edge-cache-reason')).toBe(c.reason);
      expect((await originCalls(id)).length).toBe(c.origin);
      c.check?.(r);
    });
  });
});
