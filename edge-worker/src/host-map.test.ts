import { validateRegistry } from '@wpfarm/common/registry/schema';
import { describe, expect, it } from 'vitest';
import { TEST_REGISTRY } from '../test/fixtures.ts';
import { buildHostMapDocument, normaliseRequestHost, parseHostMap, routeHost } from './host-map.ts';

const map = parseHostMap(JSON.stringify(buildHostMapDocument(validateRegistry(TEST_REGISTRY))));

describe('normaliseRequestHost', () => {
  it.each([
    ['alpha.test', 'alpha.test'],
    ['ALPHA.Test', 'alpha.test'],
    ['alpha.test:8443', 'alpha.test'],
    ['alpha.test.', 'alpha.test'],
    ['alpha.test.:80', 'alpha.test'],
    ['  alpha.test ', 'alpha.test'],
    ['', undefined],
    ['[::1]:443', undefined],
    ['203.0.113.7', undefined],
    ['bad_host!.test', undefined],
  ])('%j → %j', (raw, expected) => {
    expect(normaliseRequestHost(raw)).toBe(expected);
  });
});

describe('host map', () => {
  it('keeps upstreams and secret references out of the published document', () => {
    const text = JSON.stringify(buildHostMapDocument(validateRegistry(TEST_REGISTRY)));
    expect(text).not.toContain('upstream');
    expect(text).not.toContain('WEBHOOK_SECRET');
  });

  it('routes canonical hosts, served aliases and redirecting aliases', () => {
    expect(routeHost(map, new URL('https://alpha.test/x'))).toMatchObject({
      kind: 'site',
      host: 'alpha.test',
    });
    expect(routeHost(map, new URL('https://shop.beta.test/x'))).toMatchObject({
      kind: 'site',
      host: 'shop.beta.test',
    });
    expect(routeHost(map, new URL('http://WWW.alpha.test/x?y=1'))).toMatchObject({
      kind: 'redirect',
      location: 'http://alpha.test/x?y=1',
    });
    expect(routeHost(map, new URL('https://other.test/'))).toEqual({ kind: 'unknown', host: 'other.test' });
  });

  it.each([
    ['{"format":2,"sites":[]}', /format/],
    ['{"format":1}', /sites/],
    ['{"format":1,"sites":[{"id":"a"}]}', /sites\[0\]/],
    ['{"format":1,"sites":[{"id":"a","host":"a.test","aliases":[]}]}', /policy/],
    ['not json', /JSON|Unexpected/],
  ])('refuses a malformed document %s', (text, message) => {
    expect(() => parseHostMap(text)).toThrow(message);
  });
});
