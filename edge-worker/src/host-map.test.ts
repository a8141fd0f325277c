import { validateRegistry } from '@wpfarm/common/registry/schema';
import { describe, expect, it } from 'vitest';
import { generatedRegistry, TEST_REGISTRY } from '../test/fixtures.ts';
import {
  buildHostMapDocument,
  buildHostMapShards,
  HOST_MAP_INDEX_KEY,
  HOSTS_PER_SHARD,
  hostMapShardKey,
  normaliseRequestHost,
  parseHostMap,
  parseHostMapIndex,
  parseHostMapShard,
  routeHost,
  routeHostIn,
  shardOf,
} from './host-map.ts';
import { hostMapBulk } from './publish-host-map.ts';

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

/** A farm of `n` sites, each with 0–3 aliases and mixed policies, as the scale benchmark builds. */
const farm = (n: number) => validateRegistry(generatedRegistry(n));

describe('sharded host map', () => {
  const registry = farm(5000);
  const { index, shards } = buildHostMapShards(registry, new Date(0));
  const shardFor = (host: string) =>
    parseHostMapShard(
      JSON.stringify(shards.get(hostMapShardKey('host', index.shards, shardOf(host, index.shards)))),
    );
  const whole = parseHostMap(JSON.stringify(buildHostMapDocument(registry, new Date(0))));

  it('a cold isolate read the whole 5,000-site map (1.8 MB); now it reads an index and one shard of a few KB', () => {
    const wholeBytes = JSON.stringify(buildHostMapDocument(registry)).length;
    const largest = Math.max(...[...shards.values()].map((s) => JSON.stringify(s).length));
    expect(wholeBytes).toBeGreaterThan(1_000_000);
    expect(largest).toBeLessThan(64 * 1024);
    expect(JSON.stringify(index).length).toBeLessThan(100);
  });

  it('holds about HOSTS_PER_SHARD hosts per shard, a power-of-two count named in every key', () => {
    const hosts = registry.sites.reduce((n, s) => n + 1 + s.aliases.length, 0);
    expect(Math.log2(index.shards) % 1).toBe(0);
    expect(hosts / index.shards).toBeLessThanOrEqual(HOSTS_PER_SHARD);
    expect(hosts / index.shards).toBeGreaterThan(HOSTS_PER_SHARD / 2);
    for (const key of shards.keys())
      expect(key).toMatch(new RegExp(`^hostmap/${index.shards}/(host|site)/\\d+$`));
  });

  it('routes every host exactly as the whole document does (canonical, served alias, redirecting alias, unknown)', () => {
    for (const [host] of whole.byHost) {
      const url = new URL(`https://${host.toUpperCase()}:443/p/?q=1`);
      expect(routeHost(shardFor(host), url)).toEqual(routeHost(whole, url));
    }
    // routeHostIn: the worker's lookup over loaded shards, the host normalised once.
    const loaded = new Map<number, ReturnType<typeof parseHostMapShard>>();
    const mapFor = (h: string) => {
      const n = shardOf(h, index.shards);
      if (!loaded.has(n)) loaded.set(n, shardFor(h));
      return loaded.get(n);
    };
    for (const [host] of whole.byHost) {
      const url = new URL(`http://${host}./x`);
      expect(routeHostIn(mapFor, url)).toEqual(routeHost(whole, url));
    }
    const unknown = new URL('https://nobody.example.test/');
    expect(routeHost(shardFor('nobody.example.test'), unknown)).toEqual({
      kind: 'unknown',
      host: 'nobody.example.test',
    });
  });

  it('finds every site by id in its site shard', () => {
    for (const site of registry.sites) {
      const shard = shards.get(hostMapShardKey('site', index.shards, shardOf(site.id, index.shards)));
      expect(parseHostMapShard(JSON.stringify(shard)).byId.get(site.id)).toEqual(whole.byId.get(site.id));
    }
  });

  it.each([
    ['{"format":1,"hosts":{},"sites":[]}', /format/],
    ['{"format":2,"hosts":{}}', /sites/],
    ['{"format":2,"sites":[]}', /hosts/],
    ['{"format":2,"hosts":{"a.test":[3,0]},"sites":[]}', /a\.test/],
  ])('refuses a malformed shard %s', (text, message) => {
    expect(() => parseHostMapShard(text)).toThrow(message);
  });

  it.each([
    ['{"format":2,"shards":0}', /shards/],
    ['{"format":1,"shards":4}', /format/],
  ])('refuses a malformed index %s', (text, message) => {
    expect(() => parseHostMapIndex(text)).toThrow(message);
  });

  it('publishes the sharded layout by default (the worker reads it first), the index after every shard it names', () => {
    const bulk = hostMapBulk(farm(300), new Date(0));
    expect(bulk.some((e) => e.key === 'hostmap')).toBe(false);
    expect(bulk.at(-1)?.key).toBe(HOST_MAP_INDEX_KEY);
    const count = parseHostMapIndex(bulk.at(-1)!.value).shards;
    expect(bulk.filter((e) => e.key.startsWith(`hostmap/${count}/host/`))).toHaveLength(count);
    expect(bulk.filter((e) => e.key.startsWith(`hostmap/${count}/site/`))).toHaveLength(count);
    const both = hostMapBulk(farm(300), new Date(0), 'both');
    expect(both[0]?.key).toBe('hostmap');
    expect(both.at(-1)?.key).toBe(HOST_MAP_INDEX_KEY);
    expect(hostMapBulk(farm(3), new Date(0), 'document').map((e) => e.key)).toEqual(['hostmap']);
  });
});
