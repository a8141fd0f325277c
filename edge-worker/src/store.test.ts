import { validateRegistry } from '@wpfarm/common/registry/schema';
import { beforeEach, describe, expect, it } from 'vitest';
import { generatedRegistry, TEST_REGISTRY } from '../test/fixtures.ts';
import { EdgeError } from './errors.ts';
import { HOST_MAP_SHARDED_FORMAT, hostMapShardKey, shardOf } from './host-map.ts';
import { hostMapBulk } from './publish-host-map.ts';
import {
  describeHostMap,
  loadHostMapFor,
  loadStoredHostMap,
  memoisedShardCount,
  resetMemo,
  SHARD_MEMO_LIMIT,
} from './store.ts';

const TTL = 30_000;

/** A KV namespace in memory that records every read (only `get` is what the store calls). */
function fakeKv(values: Map<string, string> | ((key: string) => string | null)) {
  const reads: string[] = [];
  const lookup = typeof values === 'function' ? values : (key: string) => values.get(key) ?? null;
  const kv = {
    get: async (key: string) => {
      reads.push(key);
      return lookup(key);
    },
  } as unknown as KVNamespace;
  return { kv, reads };
}

const published = (registry: unknown, layout?: 'sharded' | 'both' | 'document') =>
  new Map(hostMapBulk(validateRegistry(registry), new Date(0), layout).map((e) => [e.key, e.value]));

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EdgeError);
  return (err as EdgeError).code;
}

beforeEach(resetMemo);

describe('host map store, sharded layout', () => {
  const values = published(generatedRegistry(300));
  const count = 16; // 750 hosts at 64 per shard

  it('a cold isolate reads the index and the one shard a host hashes into, then nothing within the TTL', async () => {
    const { kv, reads } = fakeKv(values);
    const host = 'a1.site-3.example.test';
    const map = await loadHostMapFor(kv, 'host', host, TTL, 0);
    expect(map.byHost.get(host)?.site.id).toBe('site-3');
    expect(reads).toEqual(['hostmap/index', hostMapShardKey('host', count, shardOf(host, count))]);
    await loadHostMapFor(kv, 'host', host, TTL, TTL - 1);
    expect(reads).toHaveLength(2);
  });

  it('finds a site by id in its site shard', async () => {
    const { kv, reads } = fakeKv(values);
    const map = await loadHostMapFor(kv, 'site', 'site-123', TTL, 0);
    expect(map.byId.get('site-123')?.host).toBe('site-123.example.test');
    expect(reads.at(-1)).toBe(hostMapShardKey('site', count, shardOf('site-123', count)));
  });

  it('concurrent cold requests for one shard share one read', async () => {
    const { kv, reads } = fakeKv(values);
    await Promise.all(
      Array.from({ length: 20 }, () => loadHostMapFor(kv, 'host', 'site-7.example.test', TTL, 0)),
    );
    expect(reads).toHaveLength(2);
  });

  it('reports the shard count and the publish time without reading any shard', async () => {
    const { kv, reads } = fakeKv(values);
    expect(describeHostMap(await loadStoredHostMap(kv, TTL, 0))).toEqual({
      layout: 'sharded',
      shards: count,
      hostMapGeneratedAt: new Date(0).toISOString(),
    });
    expect(reads).toEqual(['hostmap/index']);
  });

  it.each([
    ['a malformed index', 'HOST_MAP_INVALID', 'hostmap/index', '{"format":2,"shards":0}'],
    ['a malformed shard', 'HOST_MAP_INVALID', 'shard', 'not json'],
    ['a missing shard', 'HOST_MAP_MISSING', 'shard', null],
  ])('%s on a cold isolate is %s; after a good read it keeps the last good one', async (_, code, at, bad) => {
    const host = 'site-42.example.test';
    const key = at === 'shard' ? hostMapShardKey('host', count, shardOf(host, count)) : at;
    let broken = false;
    const { kv } = fakeKv((k) => (broken && k === key ? bad : (values.get(k) ?? null)));

    broken = true;
    expect(await refusal(loadHostMapFor(kv, 'host', host, TTL, 0))).toBe(code);

    resetMemo();
    broken = false;
    expect((await loadHostMapFor(kv, 'host', host, TTL, 0)).byHost.has(host)).toBe(true);
    broken = true;
    // Past the TTL: the stale value answers while the reload runs, and after the reload failed.
    for (const now of [TTL + 1, TTL + 2, 3 * TTL]) {
      expect((await loadHostMapFor(kv, 'host', host, TTL, now)).byHost.has(host)).toBe(true);
      await new Promise((r) => setTimeout(r, 0));
    }
  });

  it('a republished index with another shard count is followed at once, and the old count’s shards are dropped', async () => {
    let live = values;
    const { kv, reads } = fakeKv((k) => live.get(k) ?? null);
    const host = 'site-5.example.test';
    await loadHostMapFor(kv, 'host', host, TTL, 0);
    await loadHostMapFor(kv, 'site', 'site-5', TTL, 0);
    expect(memoisedShardCount()).toBe(2);

    // Sites 5 … 1,004: 2,500 hosts, 64 shards; the old keys stay in KV as a publish leaves them.
    live = new Map([...values, ...published(generatedRegistry(1005, 5))]);
    await loadHostMapFor(kv, 'host', host, TTL, TTL); // starts the index reload, answers stale
    await new Promise((r) => setTimeout(r, 0));
    reads.length = 0;
    const map = await loadHostMapFor(kv, 'host', 'site-1000.example.test', TTL, TTL);
    expect(map.byHost.get('site-1000.example.test')?.site.id).toBe('site-1000');
    expect(reads).toEqual([hostMapShardKey('host', 64, shardOf('site-1000.example.test', 64))]);
    expect(memoisedShardCount()).toBe(1);
  });
});

describe('host map store, one document (no index yet)', () => {
  it('reads the document when there is no index, and counts its sites for the health answer', async () => {
    const { kv, reads } = fakeKv(published(TEST_REGISTRY, 'document'));
    const map = await loadHostMapFor(kv, 'host', 'shop.beta.test', TTL, 0);
    expect(map.byHost.get('shop.beta.test')?.site.id).toBe('beta');
    expect((await loadHostMapFor(kv, 'site', 'gamma', TTL, 0)).byId.has('gamma')).toBe(true);
    expect(reads).toEqual(['hostmap/index', 'hostmap']);
    expect(describeHostMap(await loadStoredHostMap(kv, TTL, 0))).toMatchObject({
      layout: 'document',
      sites: 7,
    });
  });

  it('prefers the index when both layouts are published', async () => {
    const { kv } = fakeKv(published(TEST_REGISTRY, 'both'));
    expect((await loadStoredHostMap(kv, TTL, 0)).kind).toBe('sharded');
  });

  it('answers HOST_MAP_MISSING when neither layout is there, HOST_MAP_INVALID for a bad document', async () => {
    expect(await refusal(loadStoredHostMap(fakeKv(new Map()).kv, TTL, 0))).toBe('HOST_MAP_MISSING');
    resetMemo();
    const bad = fakeKv(new Map([['hostmap', '{"format":1}']]));
    expect(await refusal(loadStoredHostMap(bad.kv, TTL, 0))).toBe('HOST_MAP_INVALID');
  });
});

describe('host map store, memory', () => {
  // An index naming far more shards than the memo may hold; every shard key answers an empty shard.
  const shards = 8 * SHARD_MEMO_LIMIT;
  const empty = JSON.stringify({ format: HOST_MAP_SHARDED_FORMAT, generatedAt: '', hosts: {}, sites: [] });
  const index = JSON.stringify({ format: HOST_MAP_SHARDED_FORMAT, generatedAt: '', shards });

  it('a flood of distinct unknown hosts keeps the shard memo bounded, the busy shards kept', async () => {
    const { kv, reads } = fakeKv((k) => (k === 'hostmap/index' ? index : empty));
    const hot = 'hot.example.test';
    const hotKey = hostMapShardKey('host', shards, shardOf(hot, shards));
    for (let i = 0; i < 20_000; i++) {
      const map = await loadHostMapFor(kv, 'host', `random-${i}.flood.test`, TTL, 0);
      expect(map.byHost.size).toBe(0);
      if (i % 64 === 0) await loadHostMapFor(kv, 'host', hot, TTL, 0);
    }
    expect(memoisedShardCount()).toBe(SHARD_MEMO_LIMIT);
    expect(new Set(reads).size).toBeGreaterThan(SHARD_MEMO_LIMIT); // the flood did reach many shards
    expect(reads.filter((k) => k === hotKey)).toHaveLength(1); // least recently used goes first
  });
});
