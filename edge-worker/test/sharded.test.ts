/**
 * The worker on the sharded host map (issue 17), in workerd against Miniflare's KV: every host of
 * a generated farm routed from its one shard, the purge endpoint finding sites through the site
 * shards, the one-document fallback, a republish that changes the shard count, and broken values.
 * The app runs on a clock the tests move, so the host map's TTL passes without waiting.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { validateRegistry } from '@wpfarm/common/registry/schema';
import { beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { hostMapShardKey, shardOf } from '../src/host-map.ts';
import { resetMemo } from '../src/store.ts';
import { generatedRegistry, TEST_PURGE_TOKEN } from './fixtures.ts';
import { clearHostMap, seedHostMap } from './helpers.ts';

/** HOST_MAP_TTL_SECONDS of the test bindings (vitest.config.ts), in ms. */
const TTL_MS = 300_000;
let clock = 1_000_000;
const app = buildApp({ now: () => clock, cache: () => caches.default });

/** The bindings with a KV that records every key the worker reads. */
function recorded() {
  const reads: string[] = [];
  const kv = new Proxy(env.EDGE_KV, {
    get(target, prop) {
      if (prop === 'get')
        return (key: string, ...rest: unknown[]) => {
          reads.push(key);
          return (target.get as (...a: unknown[]) => unknown)(key, ...rest);
        };
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { bindings: { ...env, EDGE_KV: kv } as Env, reads };
}

let bindings: Env;
let reads: string[];

async function send(url: string, init: RequestInit = {}) {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(url, init), bindings, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body };
}

/** A probe path: answered by the bot gate after host routing, so it needs no origin. */
const probe = (host: string) => send(`https://${host}/.env`);

function purge(body: unknown) {
  return send('https://any.test/__edge/purge', {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_PURGE_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** Every host of a generated registry with what the edge must answer for it. */
function expectations(registry: ReturnType<typeof generatedRegistry>) {
  return registry.sites.flatMap((s) => [
    { host: s.host, status: 404, location: undefined as string | undefined },
    ...s.aliases.map((a) =>
      s.policy.aliasMode === 'redirect'
        ? { host: a, status: 301, location: `https://${s.host}/.env` }
        : { host: a, status: 404, location: undefined },
    ),
  ]);
}

async function expectRoutes(registry: ReturnType<typeof generatedRegistry>) {
  for (const e of expectations(registry)) {
    const r = await probe(e.host);
    expect({ host: e.host, status: r.status, location: r.headers.get('location') ?? undefined }).toEqual(e);
  }
}

const advance = () => {
  clock += TTL_MS + 1;
};

/** Lets a background reload started by the previous request land. */
const settle = () => new Promise((r) => setTimeout(r, 20));

beforeEach(async () => {
  resetMemo();
  ({ bindings, reads } = recorded());
});

describe('sharded host map in the worker', () => {
  const farm = generatedRegistry(300); // 750 hosts: 16 shards

  it('routes every host of a 300-site farm (canonical, served and redirecting aliases) and refuses unknown ones', async () => {
    await seedHostMap(farm);
    expect(await env.EDGE_KV.get('hostmap')).toBeNull(); // nothing but the shards to read
    await expectRoutes(farm);
    for (const host of ['nobody.example.test', 'site-300.example.test', 'a3.site-1.example.test']) {
      const r = await probe(host);
      expect([r.status, r.headers.get('x-edge-block')]).toEqual([421, 'host:unknown']);
    }
  });

  it('a cold isolate reads the index and one shard, never the whole map', async () => {
    await seedHostMap(farm);
    const host = 'a2.site-11.example.test';
    expect((await probe(host)).status).toBe(404);
    expect(reads).toEqual(['hostmap/index', hostMapShardKey('host', 16, shardOf(host, 16))]);
    // An unknown host hashing into the same shard is answered from it without another read.
    const sibling = Array.from({ length: 1000 }, (_, i) => `random-${i}.test`).find(
      (h) => shardOf(h, 16) === shardOf(host, 16),
    )!;
    expect((await probe(sibling)).status).toBe(421);
    expect(reads).toHaveLength(2);
  });

  it('the purge endpoint finds sites by id through the site shards', async () => {
    await seedHostMap(farm);
    for (const id of ['site-0', 'site-157', 'site-299']) {
      const r = await purge({ site: id, urls: [`https://${id}.example.test/p/`] });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ ok: true, site: id });
    }
    expect(reads).toContain(hostMapShardKey('site', 16, shardOf('site-157', 16)));
    const foreign = await purge({ site: 'site-1', urls: ['https://site-2.example.test/p/'] });
    expect(JSON.parse(foreign.body).error.code).toBe('PURGE_FOREIGN_URL');
    const unknown = await purge({ site: 'site-300', all: true });
    expect([unknown.status, JSON.parse(unknown.body).error.code]).toEqual([404, 'PURGE_UNKNOWN_SITE']);
  });

  it('the health answer gives the token holder the shard count and the publish time, others only ok', async () => {
    await seedHostMap(farm);
    const detail = await send('https://x.test/__edge/health', {
      headers: { authorization: `Bearer ${TEST_PURGE_TOKEN}` },
    });
    expect(JSON.parse(detail.body)).toMatchObject({ ok: true, layout: 'sharded', shards: 16 });
    expect(JSON.parse((await send('https://x.test/__edge/health')).body)).toEqual({ ok: true });
    expect(reads).toEqual(['hostmap/index']);
  });

  it('falls back to the one document when no index was published (a deployment mid-migration)', async () => {
    await seedHostMap(farm, 'document');
    await expectRoutes(farm);
    expect((await probe('nobody.example.test')).status).toBe(421);
    expect((await purge({ site: 'site-42', all: true })).status).toBe(200);
    const detail = await send('https://x.test/__edge/health', {
      headers: { authorization: `Bearer ${TEST_PURGE_TOKEN}` },
    });
    expect(JSON.parse(detail.body)).toMatchObject({ ok: true, layout: 'document', sites: 300 });
    expect(new Set(reads)).toEqual(new Set(['hostmap/index', 'hostmap', 'purge:site-42']));
  });

  it('switches to a republished index with another shard count after the TTL, without mixing the two', async () => {
    const before = generatedRegistry(100); // 250 hosts: 4 shards
    const after = generatedRegistry(300, 10); // 725 hosts: 16 shards; sites 0-9 gone, 100-299 new
    await seedHostMap(before);
    await expectRoutes(before);
    // A publish overwrites the index and adds the new count's shards; the old ones stay in KV.
    const { hostMapBulk } = await import('../src/publish-host-map.ts');
    for (const e of hostMapBulk(validateRegistry(after))) await env.EDGE_KV.put(e.key, e.value);

    // Within the TTL the isolate keeps answering from the layout it read.
    expect((await probe('site-150.example.test')).status).toBe(421);
    expect((await probe('site-5.example.test')).status).toBe(404);
    advance();
    // The first request past the TTL is answered from the old layout while the index reloads.
    expect((await probe('site-150.example.test')).status).toBe(421);
    await settle();
    await expectRoutes(after);
    for (const site of before.sites.slice(0, 10)) {
      expect((await probe(site.host)).status).toBe(421);
      for (const alias of site.aliases) expect((await probe(alias)).status).toBe(421);
    }
    const shardReads = reads.filter((k) => /^hostmap\/\d+\//.test(k));
    const lastOld = shardReads.findLastIndex((k) => k.startsWith('hostmap/4/'));
    expect(shardReads.slice(lastOld + 1).every((k) => k.startsWith('hostmap/16/'))).toBe(true);
  });

  it('a malformed shard is HOST_MAP_INVALID where nothing was read yet, and the last good shard answers elsewhere', async () => {
    await seedHostMap(farm);
    const warm = 'site-20.example.test';
    const warmKey = hostMapShardKey('host', 16, shardOf(warm, 16));
    const cold = farm.sites.map((s) => s.host).find((h) => shardOf(h, 16) !== shardOf(warm, 16))!;
    expect((await probe(warm)).status).toBe(404);
    await env.EDGE_KV.put(warmKey, '{"format":2,"hosts":{"x.test":[9,0]},"sites":[]}');
    await env.EDGE_KV.put(hostMapShardKey('host', 16, shardOf(cold, 16)), 'not json');
    advance();
    for (let i = 0; i < 3; i++) {
      expect((await probe(warm)).status).toBe(404);
      await settle();
    }
    expect(reads.filter((k) => k === warmKey).length).toBeGreaterThan(1); // it did try to reload
    const r = await probe(cold);
    expect(r.status).toBe(503);
    expect(JSON.parse(r.body).error.code).toBe('HOST_MAP_INVALID');
  });

  it('a malformed index keeps the last good one; a cold isolate answers HOST_MAP_INVALID, and HOST_MAP_MISSING with no map at all', async () => {
    await seedHostMap(farm);
    expect((await probe('site-1.example.test')).status).toBe(404);
    await env.EDGE_KV.put('hostmap/index', '{"format":2,"shards":"sixteen"}');
    advance();
    for (let i = 0; i < 3; i++) {
      expect((await probe('site-1.example.test')).status).toBe(404);
      await settle();
    }
    resetMemo();
    const r = await probe('site-1.example.test');
    expect([r.status, JSON.parse(r.body).error.code]).toEqual([503, 'HOST_MAP_INVALID']);
    await clearHostMap();
    resetMemo();
    const none = await probe('site-1.example.test');
    expect([none.status, JSON.parse(none.body).error.code]).toEqual([503, 'HOST_MAP_MISSING']);
  });
});
