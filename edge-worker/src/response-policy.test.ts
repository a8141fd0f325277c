import { DEFAULT_POLICY, type SitePolicy } from '@wpfarm/common/registry/schema';
import { describe, expect, it } from 'vitest';
import { freshness, responsePolicy } from './response-policy.ts';

const policy: SitePolicy = {
  ...DEFAULT_POLICY,
  htmlTtl: 300,
  shortTtl: 60,
  staleWhileRevalidate: 30,
  staleIfError: 3600,
};

describe('responsePolicy', () => {
  it.each([
    [200, {}, 'store:300'],
    [203, {}, 'store:300'],
    [301, {}, 'store:60'],
    [404, {}, 'store:60'],
    [410, {}, 'store:60'],
    [302, {}, 'origin:status-302'],
    [206, {}, 'origin:status-206'],
    [403, {}, 'origin:status-403'],
    [500, {}, 'origin:500'],
    [503, {}, 'origin:503'],
    [200, { 'set-cookie': 'a=1' }, 'origin:set-cookie'],
    [200, { 'cache-control': 'private, max-age=0' }, 'origin:private'],
    [200, { 'cache-control': 'public, no-store' }, 'origin:no-store'],
    [200, { 'cache-control': 'no-cache, must-revalidate' }, 'origin:no-cache'],
    [200, { 'cache-control': 'max-age=600, public' }, 'store:300'],
    [200, { vary: 'Accept-Encoding, *' }, 'origin:vary-star'],
    [200, { vary: 'Accept-Encoding' }, 'store:300'],
    [200, { vary: 'Cookie, User-Agent, Origin' }, 'store:300'],
    // Regression (issue 16): only `*` was honoured; a language variant was served to everyone.
    [200, { vary: 'Accept-Encoding, Accept-Language' }, 'origin:vary:accept-language'],
    [200, { vary: 'X-Forwarded-For' }, 'origin:vary:x-forwarded-for'],
  ] as const)('%i %j → %s', (status, headers, expected) => {
    const v = responsePolicy(status, new Headers(headers), policy);
    expect(v.store ? `store:${v.ttl}` : v.reason).toBe(expected);
  });

  it('refuses to store when nothing would ever be served', () => {
    const zero = { ...policy, htmlTtl: 0, staleWhileRevalidate: 0, staleIfError: 0 };
    expect(responsePolicy(200, new Headers(), zero)).toEqual({ store: false, reason: 'policy:ttl-0' });
  });
});

describe('freshness', () => {
  const l = { ttl: 10, swr: 5, sie: 100 };
  it.each([
    [0, 'fresh'],
    [9.9, 'fresh'],
    [10, 'stale'],
    [14.9, 'stale'],
    [15, 'error-only'],
    [109.9, 'error-only'],
    [110, 'dead'],
  ] as const)('age %d → %s', (age, expected) => {
    expect(freshness(age, l)).toBe(expected);
  });
});
