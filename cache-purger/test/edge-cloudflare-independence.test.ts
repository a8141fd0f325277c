import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedCall } from '../src/standins/cloudflare-api-standin.ts';
import {
  type Peers,
  PURGER_DIR,
  REGISTRY_FILE,
  REPO,
  sendWebhooks,
  startPeers,
  startPurger,
  until,
} from './helpers.ts';

/**
 * Regression (WordPress pages stayed HIT at the edge 8–12 s after a publish): the edge worker's
 * purge waited behind Cloudflare's in one loop, so an empty Cloudflare bucket (free plan: 25
 * calls, then 5 a minute) held back the purge that makes a page fresh at the edge. Real peers:
 * redis-server, 3 × varnishd, the purger as its own process, the real edge worker (workerd,
 * edge-worker/src/serve.ts) in front of varnish-1, and the Cloudflare API STAND-IN as its own
 * process (cloudflare-api-standin-cli.ts) with its call bucket scaled down so it is empty within
 * a second: 1 call, then 1 every 5 s. Pages are primed and asserted HIT at the edge first, so
 * "fresh" proves the edge worker's purge.
 */
const PURGE_TOKEN = 'edge-purge-token-for-tests-0123456789abcdef';
const EDGE_KEY = 'edge-auth-key-for-tests-0123456789abcdef0123';
const CF_TOKEN = 'cf-token-for-tests';
const FRESH_MS = 1000;

let p: Peers;
let edge: ManagedProcess;
let edgeUrl: string;
let cf: ManagedProcess | undefined;
let cfUrl = '';
const purgers: ManagedProcess[] = [];

beforeAll(async () => {
  p = await startPeers('purger-edge-cf');
  const port = await freePort();
  edgeUrl = `http://127.0.0.1:${port}`;
  edge = await startProcess({
    name: 'edge-worker',
    command: process.execPath,
    args: [join(REPO, 'edge-worker/src/serve.ts')],
    cwd: join(REPO, 'edge-worker'),
    env: {
      PATH: process.env.PATH,
      EDGE_PORT: String(port),
      EDGE_STATE_DIR: join(p.dir, 'edge-worker'),
      EDGE_REGISTRY: REGISTRY_FILE,
      ORIGIN_URL: `http://127.0.0.1:${p.varnish[0]!.port}`,
      EDGE_AUTH_KEYS: EDGE_KEY,
      EDGE_PURGE_TOKEN: PURGE_TOKEN,
    },
    logFile: join(p.dir, 'edge-worker.log'),
    ready: { http: `${edgeUrl}/__edge/health`, status: 200 },
    readyTimeoutMs: 120_000,
  });
}, 180_000);

afterEach(async () => {
  cf?.resume();
  edge.resume();
  for (const purger of purgers.splice(0)) await purger.stop();
  await cf?.stop();
  cf = undefined;
  // Each test starts from an empty queue (its own stand-in, its own jobs).
  const r = new Redis(`redis://127.0.0.1:${p.redisPort}`, { protocol: 2 });
  await r.flushall();
  r.disconnect();
});

afterAll(async () => {
  await edge?.stop();
  await p?.stop();
});

/** The Cloudflare API stand-in as its own process (so it can be frozen), bucket scaled down. */
async function startCloudflare(bucket = '1/0.2'): Promise<void> {
  const port = await freePort();
  cfUrl = `http://127.0.0.1:${port}`;
  cf = await startProcess({
    name: 'cloudflare-api-standin',
    command: process.execPath,
    args: [join(PURGER_DIR, 'src/standins/cloudflare-api-standin-cli.ts')],
    env: {
      PATH: process.env.PATH,
      CF_STANDIN_PORT: String(port),
      CLOUDFLARE_API_TOKEN: CF_TOKEN,
      CLOUDFLARE_PLAN: 'free',
      CF_STANDIN_BUCKET: bucket,
    },
    logFile: join(p.dir, `cloudflare-${port}.log`),
    ready: { tcp: port },
  });
}

async function startFarmPurger(name: string) {
  const purger = await startPurger(
    p,
    {
      EDGE_URL: edgeUrl,
      EDGE_PURGE_TOKEN: PURGE_TOKEN,
      CLOUDFLARE_API_TOKEN: CF_TOKEN,
      CLOUDFLARE_API_URL: `${cfUrl}/client/v4`,
      CLOUDFLARE_PLAN: 'free',
      CLOUDFLARE_ZONES: '*=zonedefault',
      PURGER_CONSUMER: 'purger-edge-cf',
    },
    name,
  );
  purgers.push(purger.proc);
  return purger;
}

const cfCalls = async (): Promise<RecordedCall[]> =>
  (await (await fetch(`${cfUrl}/__standin/calls`)).json()) as RecordedCall[];

/** The edge's cache state for a page of alpha (x-edge-cache). */
function edgeCache(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpGet(
      `${edgeUrl}${path}`,
      { headers: { host: 'alpha.farm.test' }, timeout: 5_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.headers['x-edge-cache'] ?? '')));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('edge timeout')));
  });
}

async function prime(path: string): Promise<void> {
  await until(`${path} cached at the edge`, async () => {
    await edgeCache(path);
    return (await edgeCache(path)) === 'HIT';
  });
}

interface JobStatus {
  edge: string;
  cloudflare: string;
}
const status = async (url: string, job: string) =>
  (await (await fetch(`${url}/v1/jobs/${job}`)).json()) as JobStatus;

/** Sends one webhook for alpha; resolves with its job id once accepted. */
async function purge(url: string, req: { urls?: string[]; tags?: string[] }): Promise<string> {
  const [r] = await sendWebhooks(url, [{ site: 'alpha', ...req }], 1);
  expect(r!.status).toBe(202);
  return r!.body.job as string;
}

/** Milliseconds from a webhook's 202 until the page is no longer a HIT at the edge. */
async function freshAfter(url: string, path: string, tags: string[]): Promise<number> {
  await prime(path);
  const t0 = Date.now();
  await purge(url, { urls: [`http://alpha.farm.test${path}`], tags });
  await until(`${path} fresh at the edge`, async () => (await edgeCache(path)) !== 'HIT', 15_000);
  return Date.now() - t0;
}

const metric = async (url: string, re: RegExp) =>
  Number(re.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? Number.NaN);

describe('the edge worker never waits for Cloudflare', () => {
  it('Cloudflare bucket empty (429 + Retry-After): later purges reach the edge worker within 1 s; Cloudflare gets every tag and URL once it refills, in few calls', async () => {
    await startCloudflare('1/0.2');
    const purger = await startFarmPurger('purger-empty');
    // The stand-in's one call goes to the first job; the second meets the empty bucket (429).
    await purge(purger.url, { tags: ['alpha-cf-first'] });
    await until('first tag at Cloudflare', async () => (await cfCalls()).length === 1);
    await purge(purger.url, { tags: ['alpha-cf-second'] });
    await until(
      'Cloudflare answered 429',
      async () =>
        (await metric(
          purger.url,
          /purger_edge_requests_total\{target="cloudflare",result="rate-limited"\} (\d+)/,
        )) > 0,
    );
    // With Cloudflare waiting, every new purge must still make its page fresh at the edge.
    const fresh: number[] = [];
    for (let i = 0; i < 3; i++)
      fresh.push(await freshAfter(purger.url, `/empty-bucket-${i}/`, [`alpha-cf-page-${i}`]));
    console.log(`edge fresh after webhook with the Cloudflare bucket empty: ${fresh.join(', ')} ms`);
    expect(Math.max(...fresh)).toBeLessThan(FRESH_MS);
    // A backlog accumulates behind Cloudflare's empty bucket while the edge worker keeps up.
    const jobs: string[] = [];
    for (let i = 0; i < 30; i++)
      jobs.push(
        await purge(purger.url, { urls: [`http://alpha.farm.test/backlog-${i}/`], tags: [`alpha-cf-b${i}`] }),
      );
    await until('the edge worker took every job', async () =>
      (await Promise.all(jobs.map((j) => status(purger.url, j)))).every((s) => s.edge === 'done'),
    );
    expect(await metric(purger.url, /purger_queue_depth\{node="edge-worker"\} (\d+)/)).toBe(0);
    expect(await metric(purger.url, /purger_queue_depth\{node="cloudflare"\} (\d+)/)).toBeGreaterThan(0);
    const wantTags = [
      'alpha-cf-second',
      ...[0, 1, 2].map((i) => `alpha-cf-page-${i}`),
      ...jobs.map((_, i) => `alpha-cf-b${i}`),
    ];
    const wantUrls = [
      ...[0, 1, 2].map((i) => `http://alpha.farm.test/empty-bucket-${i}/`),
      ...jobs.map((_, i) => `http://alpha.farm.test/backlog-${i}/`),
    ];
    await until(
      'Cloudflare got every tag and URL once its bucket refilled',
      async () => {
        const calls = await cfCalls();
        const got = new Set(calls.flatMap((c) => c.items));
        return [...wantTags, ...wantUrls].every((x) => got.has(x));
      },
      60_000,
    );
    await until('Cloudflare acknowledged every job', async () =>
      (await Promise.all(jobs.map((j) => status(purger.url, j)))).every((s) => s.cloudflare === 'done'),
    );
    const calls = (await cfCalls()).slice(1);
    console.log(
      `Cloudflare after its bucket refilled: ${calls.length} calls (${calls.map((c) => `${c.kind}×${c.items.length}`).join(', ')}) for ${wantTags.length} tags and ${wantUrls.length} URLs`,
    );
    // 34 tags waited for a bucket that refills one call every 5 s: merged, not one call each.
    expect(calls.filter((c) => c.kind === 'tags').length).toBeLessThanOrEqual(4);
    expect(calls.filter((c) => c.kind === 'files').length).toBeLessThanOrEqual(8);
    expect(calls.filter((c) => c.kind === 'hosts' || c.kind === 'purge_everything')).toEqual([]);
    expect(await metric(purger.url, /purger_queue_depth\{node="cloudflare"\} (\d+)/)).toBe(0);
    const log = readFileSync(join(p.dir, 'purger-empty.log'), 'utf8');
    expect(log).toContain('cloudflare bucket empty');
    expect(log).toContain('cloudflare caught up after its bucket was empty');
  });

  it('Cloudflare hung (SIGSTOP): later purges reach the edge worker within 1 s; Cloudflare gets them when it is back', async () => {
    await startCloudflare('100/100');
    const purger = await startFarmPurger('purger-hung');
    cf!.pause();
    const first = await purge(purger.url, { tags: ['alpha-hung-first'] });
    await until(
      'the first job at the edge worker',
      async () => (await status(purger.url, first)).edge === 'done',
    );
    const fresh: number[] = [];
    for (let i = 0; i < 3; i++) fresh.push(await freshAfter(purger.url, `/hung-${i}/`, [`alpha-hung-${i}`]));
    console.log(`edge fresh after webhook with Cloudflare hung: ${fresh.join(', ')} ms`);
    expect(Math.max(...fresh)).toBeLessThan(FRESH_MS);
    expect((await status(purger.url, first)).cloudflare).toBe('waiting');
    cf!.resume();
    await until(
      'Cloudflare got every tag once back',
      async () => {
        const got = new Set((await cfCalls()).flatMap((c) => c.items));
        return ['alpha-hung-first', 'alpha-hung-0', 'alpha-hung-1', 'alpha-hung-2'].every((t) => got.has(t));
      },
      30_000,
    );
  });
});

describe('kill -9 of the purger between the two deliveries loses neither', () => {
  it('edge worker done, Cloudflare waiting for its bucket: after kill -9 and restart, Cloudflare gets it', async () => {
    await startCloudflare('1/0.2');
    const first = await startFarmPurger('purger-kill-cf-a');
    await purge(first.url, { tags: ['alpha-kill-drain'] });
    await until('the bucket drained', async () => (await cfCalls()).length === 1);
    const job = await purge(first.url, { tags: ['alpha-kill-cf'] });
    await until('edge worker done, Cloudflare waiting', async () => {
      const s = await status(first.url, job);
      return s.edge === 'done' && s.cloudflare === 'waiting';
    });
    first.proc.signal('SIGKILL');
    await first.proc.exited;
    const second = await startFarmPurger('purger-kill-cf-b');
    await until('Cloudflare got the tag after the restart', async () =>
      (await cfCalls()).some((c) => c.items.includes('alpha-kill-cf')),
    );
    await until('and the job says so', async () => (await status(second.url, job)).cloudflare === 'done');
  });

  it('Cloudflare done, edge worker hung (SIGSTOP): after kill -9 and restart, the edge worker gets it', async () => {
    await startCloudflare('100/100');
    const first = await startFarmPurger('purger-kill-edge-a');
    await prime('/kill-edge/');
    edge.pause();
    const job = await purge(first.url, {
      urls: ['http://alpha.farm.test/kill-edge/'],
      tags: ['alpha-kill-edge'],
    });
    await until('Cloudflare done while the edge worker is hung', async () => {
      const s = await status(first.url, job);
      return s.cloudflare === 'done' && s.edge === 'waiting';
    });
    first.proc.signal('SIGKILL');
    await first.proc.exited;
    edge.resume();
    const second = await startFarmPurger('purger-kill-edge-b');
    await until(
      'the edge worker got it after the restart',
      async () => (await status(second.url, job)).edge === 'done',
    );
    expect(await edgeCache('/kill-edge/')).not.toBe('HIT');
  });
});
