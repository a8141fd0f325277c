import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudflareStandin, startCloudflareStandin } from '../src/standins/cloudflare-api-standin.ts';
import { type Peers, sendWebhooks, startPeers, startPurger, until } from './helpers.ts';

/**
 * Issue 16, item 7: a backlog (a Varnish node frozen, a burst of webhooks for one site) turned
 * single-URL webhooks into whole-host Varnish bans and whole-site Cloudflare purges. Real peers
 * (redis-server, 3 × varnishd counted by varnishlog, the purger as its own process, edge-standin,
 * cloudflare-api-standin on the older limit of 30 URLs a call). The numbers (a 20 s
 * freeze, 80 webhooks/s, 10,000 webhooks) are scaled down to keep the file well under a minute on
 * two shared cores; `npm run bench -- cache-purger` runs them at full size.
 */
let p: Peers;
let cf: CloudflareStandin;
let purger: Awaited<ReturnType<typeof startPurger>>;
const MAX_JOB_URLS = 20;

beforeAll(async () => {
  p = await startPeers('purger-backlog');
  cf = await startCloudflareStandin({ token: 'cf-token-for-tests', plan: 'pro', urlsPerCall: 30 });
  purger = await startPurger(p, {
    PURGE_MAX_URLS: String(MAX_JOB_URLS),
    CLOUDFLARE_API_TOKEN: 'cf-token-for-tests',
    CLOUDFLARE_API_URL: cf.url,
    CLOUDFLARE_PLAN: 'pro',
    CLOUDFLARE_URLS_PER_CALL: '30',
    CLOUDFLARE_ZONES: '*=zonedefault',
  });
});
afterAll(async () => {
  await purger?.proc.stop();
  await cf?.close();
  await p?.stop();
});

/** What each target received since `mark()`: bans per node, edge bodies, Cloudflare calls. */
function mark() {
  const bans = p.logs.map((l) => l.bans().length);
  const edge = p.edge.calls.length;
  const calls = cf.calls.length;
  return {
    bans: () => p.logs.map((l, i) => l.bans().slice(bans[i])),
    edge: () => p.edge.calls.slice(edge).map((c) => c.body),
    cloudflare: () => cf.calls.slice(calls),
  };
}
const wholeHost = (bans: string[]) => bans.filter((b) => !b.includes(' '));
const escalations = async () =>
  [
    ...(await (await fetch(`${purger.url}/metrics`)).text()).matchAll(
      /^purger_escalations_total\{(.*)\} (\d+)$/gm,
    ),
  ]
    .map((m) => `${m[1]} ${m[2]}`)
    .sort();

/** Waits until every node banned every URL, the edge and Cloudflare got every URL. */
async function delivered(since: ReturnType<typeof mark>, urls: string[]) {
  const paths = urls.map((u) => {
    const { host, pathname } = new URL(u);
    return `${host} ${pathname}`;
  });
  for (const [i, log] of p.logs.entries())
    await until(`${log.proc.name} banned every URL`, () => {
      const got = new Set(since.bans()[i]);
      return paths.every((b) => got.has(b));
    });
  await until('the edge got every URL', () => {
    const got = new Set(since.edge().flatMap((b) => b.urls ?? []));
    return urls.every((u) => got.has(u));
  });
  await until('Cloudflare got every URL', () => {
    const got = new Set(since.cloudflare().flatMap((c) => (c.kind === 'files' ? c.items : [])));
    return urls.every((u) => got.has(u));
  });
}

/** Nothing site-wide anywhere, and every Cloudflare call within its per-call limit. */
function expectNoEscalation(since: ReturnType<typeof mark>) {
  for (const bans of since.bans()) expect(wholeHost(bans)).toEqual([]);
  expect(since.edge().filter((b) => b.all)).toEqual([]);
  expect(since.cloudflare().filter((c) => c.kind !== 'files')).toEqual([]);
  expect(since.cloudflare().every((c) => c.items.length <= 30)).toBe(true);
  expect(cf.rejected.filter((r) => r.status !== 429)).toEqual([]);
}

describe('a backlog is delivered as the URLs it holds', () => {
  it('a Varnish node frozen (SIGSTOP) under ~80 single-URL webhooks/s for one site: no whole-host ban, no whole-site purge', async () => {
    const since = mark();
    const urls: string[] = [];
    const frozen = p.varnish[1]!;
    frozen.process.pause();
    try {
      // 4 s of 80 webhooks/s (the issue: 20 s), 8 every 100 ms, each one post's URL.
      for (let tick = 0; tick < 40; tick++) {
        const batch = Array.from({ length: 8 }, (_, i) => `http://alpha.farm.test/frozen-${tick * 8 + i}/`);
        urls.push(...batch);
        const res = await sendWebhooks(
          purger.url,
          batch.map((u) => ({ site: 'alpha', urls: [u] })),
          8,
        );
        expect(res.every((r) => r.status === 202)).toBe(true);
        await sleep(100);
      }
    } finally {
      frozen.process.resume();
    }
    await delivered(since, urls);
    expectNoEscalation(since);
    // The frozen node's backlog (hundreds of jobs) arrived as its own bans, one per URL.
    expect(since.bans()[1]!.length).toBeGreaterThanOrEqual(urls.length);
    expect(await escalations()).toEqual([]);
  });

  it('2,000 single-URL webhooks for one site as fast as they go (the issue: 10,000): no whole-host ban, no whole-site purge', async () => {
    const since = mark();
    const urls = Array.from({ length: 2_000 }, (_, i) => `http://www.alpha.farm.test/burst-${i}/`);
    const res = await sendWebhooks(
      purger.url,
      urls.map((u) => ({ site: 'alpha', urls: [u] })),
      64,
    );
    expect(res.every((r) => r.status === 202)).toBe(true);
    await delivered(since, urls);
    expectNoEscalation(since);
    // Batched: Cloudflare got the URLs 30 a call (the limit), not one call per webhook.
    expect(since.cloudflare().length).toBeLessThan(urls.length / 5);
    expect(await escalations()).toEqual([]);
  });
});

describe('the escalation rule, and only it, purges wider', () => {
  it(`one webhook with more than PURGE_MAX_URLS (${MAX_JOB_URLS}) URLs: whole-host bans on Varnish, the URLs at the edge and Cloudflare`, async () => {
    const since = mark();
    const urls = Array.from({ length: MAX_JOB_URLS + 1 }, (_, i) => `http://alpha.farm.test/bulk-${i}/`);
    const [res] = await sendWebhooks(purger.url, [{ site: 'alpha', urls }]);
    expect(res!.status).toBe(202);
    await until('every node banned the hosts of alpha', () =>
      since.bans().every((b) => wholeHost(b).length === 2),
    );
    for (const bans of since.bans())
      expect(new Set(wholeHost(bans))).toEqual(new Set(['alpha.farm.test', 'www.alpha.farm.test']));
    await until('the edge and Cloudflare got the URLs', () => {
      const cfUrls = new Set(since.cloudflare().flatMap((c) => c.items));
      return since.edge().some((b) => b.urls?.length === urls.length) && urls.every((u) => cfUrls.has(u));
    });
    expect(since.edge().filter((b) => b.all)).toEqual([]);
    expect(since.cloudflare().filter((c) => c.kind !== 'files')).toEqual([]);
    expect(await escalations()).toEqual(['target="varnish",reason="job-urls" 3']);
  });

  it('a webhook with all: true (a theme switch): the whole site everywhere, Cloudflare by host, never purge_everything', async () => {
    const since = mark();
    const [res] = await sendWebhooks(purger.url, [{ site: 'beta', all: true }]);
    expect(res!.status).toBe(202);
    const hosts = ['beta-shop.farm.test', 'shop.beta.farm.test', 'www.beta-shop.farm.test'];
    await until('Cloudflare purged beta by host', () => since.cloudflare().some((c) => c.kind === 'hosts'));
    for (const bans of since.bans()) expect(new Set(wholeHost(bans))).toEqual(new Set(hosts));
    expect(since.edge()).toEqual([{ site: 'beta', all: true }]);
    expect(since.cloudflare()).toEqual([{ zone: 'zonedefault', kind: 'hosts', items: hosts }]);
    expect(await escalations()).toEqual([
      'target="cloudflare",reason="site-change" 1',
      'target="edge-worker",reason="site-change" 1',
      'target="varnish",reason="job-urls" 3',
      'target="varnish",reason="site-change" 3',
    ]);
    const log = await readFile(join(p.dir, 'purger.log'), 'utf8');
    expect(log).toMatch(/"site":"beta","reason":"site-change".*whole-host ban/);
    expect(log).toMatch(/"site":"beta","reason":"site-change".*whole-site edge purge/);
  });

  it('the edge worker widening a URL purge itself (escalated: true: its records overflowed) is counted and logged too', async () => {
    const since = mark();
    p.edge.escalate = true;
    try {
      const [res] = await sendWebhooks(purger.url, [
        { site: 'gamma', urls: ['http://gamma.farm.test/one/'] },
      ]);
      expect(res!.status).toBe(202);
      await until('the edge got it', () => since.edge().length > 0);
      await until('counted', async () =>
        (await escalations()).includes('target="edge-worker",reason="edge-records" 1'),
      );
    } finally {
      p.edge.escalate = false;
    }
    const log = await readFile(join(p.dir, 'purger.log'), 'utf8');
    expect(log).toMatch(/"site":"gamma","reason":"edge-records".*whole-site edge purge/);
  });
});
