import { describe, expect, it } from 'vitest';
import { constantTimeEqual, edgeSecretMatches, parseEdgeKeys } from './edge-auth.ts';
import { validatePurgeRequest } from './purge.ts';
import { signBody, verifySignature } from './signing.ts';

const K1 = 'k'.repeat(32);
const K2 = 'n'.repeat(40);

describe('edge auth', () => {
  it('compares strings exactly', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('abc\u0000', 'abc')).toBe(false);
    expect(constantTimeEqual('caf\u00e9', 'cafe\u0301')).toBe(false);
    expect(constantTimeEqual('\u{1f511}key', '\u{1f511}key')).toBe(true);
  });
  it('accepts either rotation key and nothing else', () => {
    expect(edgeSecretMatches(K1, [K1, K2])).toBe(true);
    expect(edgeSecretMatches(K2, [K1, K2])).toBe(true);
    expect(edgeSecretMatches('x'.repeat(32), [K1, K2])).toBe(false);
    expect(edgeSecretMatches(undefined, [K1])).toBe(false);
    expect(edgeSecretMatches('', [''])).toBe(false);
  });
  it('validates the key list', () => {
    expect(parseEdgeKeys(`${K1}, ${K2}`)).toEqual([K1, K2]);
    expect(() => parseEdgeKeys('')).toThrow(/EDGE_AUTH_KEYS is required/);
    expect(() => parseEdgeKeys('short')).toThrow(/key #1 is shorter than 32/);
    expect(() => parseEdgeKeys([K1, K1, K1].join(','))).toThrow(/at most two/);
  });
});

describe('purge requests', () => {
  it('accepts urls, tags and all, de-duplicating', () => {
    const r = validatePurgeRequest({
      site: 'alpha',
      urls: ['https://alpha.farm.test/a#x', 'https://alpha.farm.test/a'],
      tags: ['alpha-p-1'],
    });
    expect(r).toEqual({
      ok: true,
      value: { site: 'alpha', urls: ['https://alpha.farm.test/a'], tags: ['alpha-p-1'] },
    });
  });
  it('keeps the event id of the WordPress change (the idempotency key of its retries)', () => {
    expect(validatePurgeRequest({ site: 'alpha', all: true, event: 'wp-7_f3a9c2e1' })).toEqual({
      ok: true,
      value: { site: 'alpha', all: true, event: 'wp-7_f3a9c2e1' },
    });
  });
  it.each([
    [null, '', /JSON object/],
    [{ site: 'alpha' }, '', /nothing to purge/],
    [{ site: 'alpha', regex: '.*' }, 'regex', /unknown field/],
    [{ site: 'Alpha!', all: true }, 'site', /site id/],
    [{ site: 'alpha', urls: ['/relative'] }, 'urls[0]', /absolute URL/],
    [{ site: 'alpha', urls: ['https://alpha.farm.test/.*'] }, 'urls[0]', /not a pattern/],
    [{ site: 'alpha', urls: ['ftp://alpha.farm.test/x'] }, 'urls[0]', /http or https/],
    [{ site: 'alpha', tags: ['bad tag'] }, 'tags[0]', /must be a tag/],
    [{ site: 'alpha', all: 'yes' }, 'all', /true or false/],
    [{ site: 'alpha', urls: Array(2001).fill('https://a.test/') }, 'urls', /limit 2000/],
    [{ site: 'alpha', all: true, event: 'short' }, 'event', /8 to 64/],
    [{ site: 'alpha', all: true, event: 'a'.repeat(65) }, 'event', /8 to 64/],
    [{ site: 'alpha', all: true, event: 'post-7 publish' }, 'event', /8 to 64/],
    [{ site: 'alpha', all: true, event: 12345678 }, 'event', /8 to 64/],
  ])('rejects %j on field %j', (body, field, message) => {
    const r = validatePurgeRequest(body);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.field).toBe(field);
      expect(r.message).toMatch(message);
    }
  });
});

describe('webhook signing', () => {
  const body = '{"site":"alpha","all":true}';
  const now = 1_800_000_000_000;
  it('round-trips and accepts either of two secrets', () => {
    const h = signBody('s1', body, now);
    expect(verifySignature(['s0', 's1'], { ...h }, body, now)).toMatchObject({
      ok: true,
      nonce: h['x-farm-nonce'],
    });
  });
  it.each([
    ['a changed body', (h: Record<string, string>) => ({ h, body: `${body} ` }), 'mismatch'],
    [
      'a wrong secret',
      (h: Record<string, string>) => ({ h: { ...h, 'x-farm-signature': `v1=${'0'.repeat(64)}` }, body }),
      'mismatch',
    ],
    [
      'no signature',
      (h: Record<string, string>) => ({ h: { ...h, 'x-farm-signature': undefined }, body }),
      'missing',
    ],
    [
      'a malformed signature',
      (h: Record<string, string>) => ({ h: { ...h, 'x-farm-signature': 'sha1=abc' }, body }),
      'malformed',
    ],
    [
      'an old timestamp',
      (h: Record<string, string>) => ({ h: { ...h, 'x-farm-timestamp': String(now / 1000 - 301) }, body }),
      'expired',
    ],
  ])('rejects %s', (_n, mutate, reason) => {
    const { h, body: b } = mutate({ ...signBody('s1', body, now) });
    expect(verifySignature(['s1'], h as Record<string, string>, b, now)).toEqual({ ok: false, reason });
  });
});
