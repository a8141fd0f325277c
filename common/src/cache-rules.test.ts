import { describe, expect, it } from 'vitest';
import {
  BYPASS_COOKIES,
  FUNCTIONAL_PARAMS,
  IGNORED_COOKIES,
  isMarketingParam,
  matchesCookie,
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
