import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareStandin, startCloudflareStandin } from '../src/standins/cloudflare-api-standin.ts';
import { cacheState, type Peers, sendWebhooks, startPeers, startPurger, until } from './helpers.ts';

/**
 * Real peers: redis-server, 3 × varnishd with the farm's VCL, the demo origin behind them, the
 * purger as its own process, and edge-standin recording the edge purges. Purges are counted on
 * the Varnish side (varnishlog of each node).
 */
let p: Peers;
let purger: Awaited<ReturnType<typeof startPurger>>;
let cf: CloudflareStandin;

beforeAll(async () => {
  p = await startPeers('purger-delivery');
  // The stand-in's bucket is smaller than the plan the purger believes in, so it answers 429s the
  // purger has to honour (Retry-After) while still delivering everything.
  cf = await startCloudflareStandin({
    token: 'cf-token-for-tests',
    plan: 'enterprise',
    bucket: { capacity: 5, perSecond: 20 },
  });
  purger = await startPurger(p, {
    PURGE_COALESCE_MS: '50',
    CLOUDFLARE_API_TOKEN: 'cf-token-for-tests',
    CLOUDFLARE_API_URL: cf.url,
    CLOUDFLARE_PLAN: 'enterprise',
    CLOUDFLARE_ZONES: 'beta=zonebeta,*=zonedefault',
  });
});
afterAll(async () => {
  await purger?.proc.stop();
  await cf?.close();
  await p?.stop();
});

describe('delivery to every Varnish node, then the edge', () => {
  it('purges cached pages by URL and tag on all 3 nodes, then the edge, and reports it per node', async () => {
    const paths = ['/hello-world/', '/about/'];
    for (const v of p.varnish)
      for (const path of paths) {
        await cacheState(v, 'alpha.farm.test', path);
        expect(await cacheState(v, 'alpha.farm.test', path)).toBe('HIT');
      }
    expect(await cacheState(p.varnish[0]!, 'alpha.farm.test', '/')).not.toBe('');
    expect(await cacheState(p.varnish[0]!, 'alpha.farm.test', '/')).toBe('HIT');
    const [r1, r2] = await sendWebhooks(purger.url, [
      { site: 'alpha', urls: ['http://alpha.farm.test/hello-world/'] },
      { site: 'alpha', tags: ['alpha-home'] },
    ]);
    expect(r1!.status).toBe(202);
    expect(r2!.status).toBe(202);
    const job = r1!.body.job as string;
    await until('job done on every node and the edge', async () => {
      const s = (await (await fetch(`${purger.url}/v1/jobs/${job}`)).json()) as { edge: string };
      return s.edge === 'done';
    });
    const status = (await (await fetch(`${purger.url}/v1/jobs/${job}`)).json()) as Record<string, unknown>;
    expect(status.nodes).toEqual({ 'varnish-1': 'done', 'varnish-2': 'done', 'varnish-3': 'done' });
    for (const v of p.varnish) {
      expect(await cacheState(v, 'alpha.farm.test', '/hello-world/')).toBe('MISS');
      expect(await cacheState(v, 'alpha.farm.test', '/about/')).toBe('HIT'); // not purged: still cached
    }
    expect(await cacheState(p.varnish[0]!, 'alpha.farm.test', '/')).toBe('MISS'); // xkey alpha-home
    for (const log of p.logs) expect(log.bans()).toContain('alpha.farm.test /hello-world/');
    await until('edge got the purge', () =>
      p.edge.calls.some((c) => c.body.urls?.includes('http://alpha.farm.test/hello-world/')),
    );
    expect(p.edge.calls[0]!.auth).toBe('Bearer edge-purge-token-for-tests');
  });

  it('10,000 webhooks: every node applied every purge (counted in each node’s varnishlog), then the edge', async () => {
    const sites = ['alpha', 'beta', 'gamma'];
    const bodies = Array.from({ length: 10_000 }, (_, i) => {
      const site = sites[i % 3]!;
      return { site, tags: [`${site}-p-storm${i}`] };
    });
    const res = await sendWebhooks(purger.url, bodies, 64);
    const accepted = res.filter((r) => r.status === 202);
    expect(accepted.length).toBe(10_000);
    const want = bodies.map((b) => b.tags[0]!);
    for (const log of p.logs)
      await until(
        `${log.proc.name} saw all 10,000 keys`,
        () => {
          const keys = log.keys();
          return want.every((k) => keys.has(k));
        },
        90_000,
      );
    await until(
      'edge saw all 10,000 tags',
      () => {
        const t = p.edge.tags();
        return want.every((k) => t.has(k));
      },
      60_000,
    );
    await until(
      'cloudflare saw all 10,000 tags',
      () => {
        const t = new Set(cf.calls.flatMap((c) => (c.kind === 'tags' ? c.items : [])));
        return want.every((k) => t.has(k));
      },
      60_000,
    );
    expect(cf.calls.every((c) => c.items.length <= 100)).toBe(true);
    expect(
      cf.calls.filter((c) => c.items.some((i) => i.startsWith('beta-'))).every((c) => c.zone === 'zonebeta'),
    ).toBe(true);
    expect(cf.rejected.some((r) => r.status === 429)).toBe(true); // the purger met the limit and honoured it
    expect(cf.rejected.every((r) => r.status === 429)).toBe(true); // and never broke a per-call limit
    const metrics = await (await fetch(`${purger.url}/metrics`)).text();
    expect(metrics).toMatch(/purger_queue_depth\{node="varnish-1"\} \d+/);
    expect(metrics).toMatch(/purger_purge_latency_seconds_count\{node="varnish-2"\} \d+/);
  });

  it('a bulk edit of 500 posts in a few seconds (500 webhooks): each node bans the 1,000 URLs, never the whole host', async () => {
    const before = p.logs.map((l) => l.bans().length);
    const bodies = Array.from({ length: 500 }, (_, i) => ({
      site: 'beta',
      urls: [`http://beta-shop.farm.test/product-${i}/`, `http://beta-shop.farm.test/product-${i}/page/2/`],
      tags: [`beta-p-${i}`],
    }));
    const res = await sendWebhooks(purger.url, bodies, 32);
    expect(res.every((r) => r.status === 202)).toBe(true);
    const ids = res.map((r) => r.body.job as string);
    const last = ids.sort().at(-1)!;
    await until('bulk edit applied', async () => {
      const s = (await (await fetch(`${purger.url}/v1/jobs/${last}`)).json()) as { nodesPending: number };
      return s.nodesPending === 0;
    });
    const want = bodies.flatMap((b) => b.urls.map((u) => `beta-shop.farm.test ${new URL(u).pathname}`));
    for (const [i, log] of p.logs.entries()) {
      // Issue 16: windows of >50 URLs used to become one ban per host of the site, wiping it
      // because the queue was busy. Each webhook holds 2 URLs (the per-webhook rule's limit is
      // 50), so every URL is its own exact ban however the windows fall.
      await until(`${log.proc.name} logged every URL ban`, () => {
        const bans = new Set(log.bans().slice(before[i]));
        return want.every((b) => bans.has(b));
      });
      expect(
        log
          .bans()
          .slice(before[i])
          .filter((b) => !b.includes(' ')),
      ).toEqual([]);
    }
  });
});
