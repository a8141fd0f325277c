import { describe, expect, it } from 'vitest';
import {
  cacheKeyUrl,
  deviceUserAgent,
  deviceVariant,
  deviceVariants,
  keyQuery,
  pageKey,
} from './cache-key.ts';

describe('keyQuery', () => {
  it.each([
    ['', ''],
    ['?', ''],
    ['?utm_source=a&utm_medium=b&fbclid=c&gclid=d&msclkid=e&_ga=f&ref=g', ''],
    ['?mc_cid=1&mc_eid=2&_ke=3&dclid=4&fb_action_ids=5&fb_source=6&mkt_tok=7&epik=8&ck_subscriber_id=9', ''],
    ['?amp=1', '?amp=1'],
    [
      '?lang=de&s=x&q=y&p=1&page=2&paged=3&page_id=4&replytocom=5',
      '?lang=de&p=1&page=2&page_id=4&paged=3&q=y&replytocom=5&s=x',
    ],
    ['?b=2&a=1', '?a=1&b=2'],
    ['?tag=x&tag=a', '?tag=x&tag=a'],
    ['?utm_source=x&paged=2', '?paged=2'],
    ['?unknown=1', '?unknown=1'],
    ['?s=a+b', '?s=a+b'],
    ['?referrer=x', '?referrer=x'],
  ])('%s → %s', (search, expected) => {
    expect(keyQuery(search)).toBe(expected);
  });

  it('pageKey keeps the path', () => {
    expect(pageKey(new URL('https://a.test/x/y/?utm_source=1&paged=2'))).toBe('/x/y/?paged=2');
  });
});

describe('device variants', () => {
  it.each([
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Mobile/15E148', true, 'mobile'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8)', true, 'mobile'],
    ['Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0', true, 'desktop'],
    ['', true, 'desktop'],
    ['Mozilla/5.0 (iPhone) Mobile', false, 'any'],
  ] as const)('%s (variants %s) → %s', (ua, on, expected) => {
    expect(deviceVariant(ua, on)).toBe(expected);
  });
  it('lists every variant for purges', () => {
    expect(deviceVariants(true)).toEqual(['mobile', 'desktop']);
    expect(deviceVariants(false)).toEqual(['any']);
  });
});

describe('cacheKeyUrl', () => {
  it('folds scheme, version and device into a reserved path on the visitor host', () => {
    expect(
      cacheKeyUrl({ scheme: 'https', host: 'a.test', version: 3, device: 'mobile', page: '/p/?paged=2' }),
    ).toBe('https://a.test/__edge-cache/https/v3/mobile/p/?paged=2');
  });
});

describe('the User-Agent of a cacheable fetch', () => {
  it('is classified as the device variant it stands for', () => {
    expect(deviceVariant(deviceUserAgent('mobile'), true)).toBe('mobile');
    expect(deviceVariant(deviceUserAgent('desktop'), true)).toBe('desktop');
    expect(deviceVariant(deviceUserAgent('any'), true)).toBe('desktop');
  });
});
