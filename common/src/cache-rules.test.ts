import { describe, expect, it } from 'vitest';
import {
  BYPASS_COOKIES,
  CACHEABLE_METHODS,
  FUNCTIONAL_PARAMS,
  hasPhpParam,
  IGNORED_COOKIES,
  isMarketingParam,
  matchesCookie,
  NEVER_CACHE_QUERY_KEYS,
  normalisePath,
  POISONING_HEADERS,
  PURGE_HEADERS,
  phpParamName,
  restApiOtherSpelling,
  restApiSpelling,
  VARY_WITHIN_KEY,
  VISITOR_METHODS,
  varyOutsideKey,
} from './cache-rules.ts';

describe('cookie families', () => {
  it.each([
    ['wordpress_logged_in_abc123', true],
    ['wordpress_sec_abc123', true],
    ['wp-postpass_abc', true],
    ['woocommerce_items_in_cart', true],
    ['woocommerce_items_in_cart_extra', false],
    ['wordpress_test_cookie', false],
    ['wp-settings-1', false],
    ['wordpress', false],
  ])('%s bypasses: %s', (name, bypass) => {
    expect(matchesCookie(name, BYPASS_COOKIES)).toBe(bypass);
  });
  it('no cookie is both ignored and bypassing', () => {
    for (const p of IGNORED_COOKIES) expect(matchesCookie(p.name, BYPASS_COOKIES), p.name).toBe(false);
  });
});

describe('marketing parameters', () => {
  it.each(['utm_source', 'utm_campaign', 'fbclid', 'gclid', '_ga', 'ref'])('%s is stripped', (k) =>
    expect(isMarketingParam(k)).toBe(true),
  );
  it.each(['amp', 'lang', 's', 'paged', 'page_id', 'reference', 'utm'])('%s stays in the key', (k) =>
    expect(isMarketingParam(k)).toBe(false),
  );
  it('no functional parameter is ever a marketing one', () => {
    for (const k of FUNCTIONAL_PARAMS) expect(isMarketingParam(k), k).toBe(false);
  });
});

describe('PHP query key names (what WordPress reads from $_GET)', () => {
  it.each([
    ['rest_route', 'rest_route'],
    ['rest.route', 'rest_route'],
    ['rest route', 'rest_route'],
    ['  rest_route', 'rest_route'],
    ['rest[route', 'rest_route'],
    ['rest_route[]', 'rest_route'],
    ['rest_route[a][b]', 'rest_route'],
    ['rest_route\0junk', 'rest_route'],
    ['REST_ROUTE', 'REST_ROUTE'],
    ['pre.view', 'pre_view'],
  ])('%j is filed as %j', (raw, name) => expect(phpParamName(raw)).toBe(name));

  it('finds a key in any spelling URLSearchParams decodes', () => {
    for (const q of [
      '?rest_route=/wp/v2/posts',
      '?%72est%5Froute=/x',
      '?rest.route=/x',
      '?a=1&rest+route',
      '?rest_route',
    ])
      expect(hasPhpParam(new URLSearchParams(q), 'rest_route'), q).toBe(true);
    for (const q of ['?restroute=/x', '?rest_routes=/x', '?x=rest_route', '?REST_ROUTE=/x'])
      expect(hasPhpParam(new URLSearchParams(q), 'rest_route'), q).toBe(false);
  });
});

describe('the REST API rule (one for the edge and the VCL)', () => {
  const spelling = (url: string) => {
    const u = new URL(`https://a.test${url}`);
    return restApiSpelling(normalisePath(u.pathname), u.searchParams);
  };
  it.each([
    ['/wp-json/wp/v2/posts', 'path'],
    ['/wp-json', 'path'],
    ['//wp-json/wp/v2/posts', 'path'],
    ['/wp%2Djson/wp/v2/posts', 'path'],
    ['/?rest_route=/wp/v2/posts', 'query'],
    ['/index.php?rest_route=/wp/v2/posts', 'query'],
    ['/?p=1&rest.route=/wp/v2/posts', 'query'],
    ['/?rest_route=', 'query'],
    ['/wp-jsonx/', undefined],
    ['/blog/?route=/wp/v2/posts', undefined],
  ])('%s → %s', (url, expected) => expect(spelling(url)).toBe(expected));
});

describe('never-cache query keys', () => {
  it('preview bypasses with any value, not only true', () => {
    for (const q of ['?preview=true', '?preview=1', '?p=7&preview', '?preview[]=1'])
      expect(
        NEVER_CACHE_QUERY_KEYS.some((k) => hasPhpParam(new URLSearchParams(q), k)),
        q,
      ).toBe(true);
  });
});

describe('normalised paths (reserved and never-cache paths in every spelling)', () => {
  it.each([
    ['/__edge/health', '/__edge/health'],
    ['/__EDGE/health', '/__edge/health'],
    ['//__edge/health', '/__edge/health'],
    ['/%5F%5Fedge/health', '/__edge/health'],
    ['/%255F_edge/health', '/__edge/health'],
    ['/x/../__edge/purge', '/__edge/purge'],
    ['/./__edge/', '/__edge/'],
    ['/%2F__edge', '/__edge'],
    ['/wp-admin/', '/wp-admin/'],
    ['/', '/'],
  ])('%s → %s', (raw, normal) => expect(normalisePath(raw)).toBe(normal));
});

describe('Vary and the key', () => {
  it.each([
    [null, undefined],
    ['Accept-Encoding', undefined],
    ['accept-encoding, Cookie, Origin, User-Agent', undefined],
    ['Accept-Language', 'accept-language'],
    ['Accept-Encoding, X-Forwarded-For', 'x-forwarded-for'],
    ['*', '*'],
  ])('Vary %j → outside the key: %j', (vary, outside) => expect(varyOutsideKey(vary)).toBe(outside));
});

describe('visitor methods and purge headers', () => {
  it('no purge method is a visitor method', () => {
    for (const m of ['PURGE', 'BAN', 'TRACE', 'PROPFIND', 'CONNECT'])
      expect(VISITOR_METHODS).not.toContain(m);
  });
  it('every cacheable method is a visitor method', () => {
    for (const m of CACHEABLE_METHODS) expect(VISITOR_METHODS).toContain(m);
  });
  it('purge headers and forged proxy headers are disjoint from what a stored page may vary on', () => {
    for (const h of [...PURGE_HEADERS, ...POISONING_HEADERS]) expect(VARY_WITHIN_KEY).not.toContain(h);
  });
});

describe('the other spelling of a REST URL (purges)', () => {
  it.each([
    ['/wp-json/wp/v2/posts/7', '/?rest_route=%2Fwp%2Fv2%2Fposts%2F7'],
    ['/wp-json/wp/v2/posts?per_page=5', '/?rest_route=%2Fwp%2Fv2%2Fposts&per_page=5'],
    ['/wp-json/', '/?rest_route=%2F'],
    ['/?rest_route=/wp/v2/posts/7', '/wp-json/wp/v2/posts/7'],
    ['/index.php?rest_route=%2Fwp%2Fv2%2Fposts&per_page=5', '/wp-json/wp/v2/posts?per_page=5'],
    ['/blog/?rest_route=/wp/v2/posts', undefined],
    ['/hello-world/', undefined],
  ])('%s ↔ %s', (from, to) => {
    expect(restApiOtherSpelling(new URL(`https://a.test${from}`))).toBe(to);
  });
  it('goes back to where it started', () => {
    const there = restApiOtherSpelling(new URL('https://a.test/wp-json/wp/v2/tags/3?x=1'))!;
    expect(restApiOtherSpelling(new URL(`https://a.test${there}`))).toBe('/wp-json/wp/v2/tags/3?x=1');
  });
});
