import { parseRegistry } from '@wpfarm/common/registry/load';
import { describe, expect, it } from 'vitest';
import {
  findSite,
  freshnessHints,
  hasCookiePrefix,
  routingHost,
  siteClass,
  varnishHints,
} from './site-lookup.ts';

const registry = parseRegistry(`
version: 1
sites:
  - { id: alpha, host: alpha.farm.test, aliases: [www.alpha.farm.test], upstream: "http://a:80", webhookSecretRef: W }
  - id: shop
    host: shop.farm.test
    upstream: "http://s:80"
    webhookSecretRef: W
    policy: { woocommerce: true, restApiCache: true, extraBypassCookies: [pmpro_], htmlTtl: 120 }
  - { id: down, host: down.farm.test, upstream: "http://d:80", webhookSecretRef: W, policy: { maintenance: true } }
`);

describe('site lookup', () => {
  it('uses x-edge-host only when the edge verified', () => {
    expect(routingHost('127.0.0.1:8080', 'alpha.farm.test', true)).toBe('alpha.farm.test');
    expect(routingHost('127.0.0.1:8080', 'alpha.farm.test', false)).toBe('127.0.0.1:8080');
    expect(routingHost('alpha.farm.test', undefined, true)).toBe('alpha.farm.test');
  });

  it.each([
    ['alpha.farm.test', 'alpha'],
    ['ALPHA.farm.test:443', 'alpha'],
    ['www.alpha.farm.test.', 'alpha'],
    ['shop.farm.test', 'shop'],
    ['nope.farm.test', undefined],
    [undefined, undefined],
    ['[::1]:80', undefined],
  ])('%s → %s', (host, id) => {
    expect(findSite(registry, host)?.site.id).toBe(id);
  });

  it('classifies sites for metrics without their ids', () => {
    expect(siteClass(registry.byId.get('alpha'))).toBe('standard');
    expect(siteClass(registry.byId.get('shop'))).toBe('woocommerce');
    expect(siteClass(registry.byId.get('down'))).toBe('maintenance');
    expect(siteClass(undefined)).toBe('unknown');
  });

  it('matches per-site bypass cookie prefixes at name starts only', () => {
    expect(hasCookiePrefix('a=1; pmpro_visit=1', ['pmpro_'])).toBe(true);
    expect(hasCookiePrefix('a=pmpro_visit', ['pmpro_'])).toBe(false);
    expect(hasCookiePrefix(undefined, ['pmpro_'])).toBe(false);
  });

  it('builds Varnish hints from the site policy', () => {
    const out: string[] = [];
    varnishHints(registry.byId.get('shop')!, 'pmpro_visit=1', out);
    expect(out).toEqual(['x-farm-woocommerce', '1', 'x-farm-rest-cache', '1', 'x-farm-bypass', '1']);
    const none: string[] = [];
    varnishHints(registry.byId.get('alpha')!, 'pmpro_visit=1', none);
    expect(none).toEqual([]);
    expect(freshnessHints(registry.byId.get('shop')!).slice(0, 2)).toEqual(['x-farm-ttl', '120']);
  });
});
