import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startRedis } from '@wpfarm/common/peers/redis';
import { startVarnish, type VarnishInstance } from '@wpfarm/common/peers/varnish';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { ratio } from '../load.ts';
import type { Benchmark } from '../types.ts';

/**
 * The cache-purger against sending the same purges straight to one Varnish node, in one run:
 * (1) accepted webhooks per second (signed, each durable in Redis before its 202) against xkey
 * PURGE requests per second to one node; (2) webhook-to-applied-on-all-3-nodes latency at a fixed
 * 500 purges/s, read from each node's own log (varnishlog `Timestamp Resp` of the PURGE carrying
 * the tag), against the response time of the same purge sent directly to one node.
 * Load comes from cache-purger/src/tools/webhook-load.ts in its own process: autocannon repeats
 * one request, and every webhook needs its own nonce and signature.
 * (3) Issue 16's backlog scenarios at full size, with the edge (a recording stand-in) and
 * Cloudflare (its API stand-in, 30 URLs a call): a Varnish node frozen (SIGSTOP) 20 s under 80
 * single-URL webhooks/s for one site, then 10,000 single-URL webhooks as fast as they go. Goal:
 * no whole-host ban and no whole-site purge (the old rule made 39 whole-site Cloudflare purges of
 * 10,000), every Cloudflare call within its limit, every URL delivered.
 */
const run = promisify(execFile);
const SECRET = 'bench-webhook-secret-0123456789';
const PURGE_SECRET = 'bench-purge-secret';
const COALESCE_MS = 50;
const REGISTRY = `version: 1
sites:
  - { id: alpha, host: alpha.farm.test, upstream: "http://127.0.0.1:1", webhookSecretRef: WEBHOOK_SECRET_ALPHA }
`;

interface LoadResult {
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

const bench: Benchmark = {
  name: 'cache-purger',
  description:
    'signed webhooks accepted/s and applied-on-3-nodes latency at 500/s vs purges sent straight to one Varnish',
  async run(ctx) {
    const registryFile = join(ctx.dir, 'sites.yaml');
    writeFileSync(registryFile, REGISTRY);
    const procs: { stop(): Promise<void> }[] = [];
    const tool = join(ctx.root, 'cache-purger/src/tools/webhook-load.ts');
    const load = async (spec: Record<string, unknown>): Promise<LoadResult> => {
      const { stdout } = await run(
        process.execPath,
        [tool, JSON.stringify({ site: 'alpha', secret: SECRET, purgeSecret: PURGE_SECRET, ...spec })],
        {
          timeout: ((spec.seconds as number) + 60) * 1000,
          maxBuffer: 16 * 1024 * 1024,
        },
      );
      return JSON.parse(stdout.trim().split('\n').at(-1)!) as LoadResult;
    };
    try {
      const dead = await freePort(); // purges never reach the backend
      const varnish: VarnishInstance[] = [];
      for (const i of [1, 2, 3]) {
        const v = await startVarnish({
          name: `varnish-${i}`,
          dir: join(ctx.dir, `varnish-${i}`),
          backend: { host: '127.0.0.1', port: dead },
          purgeSecret: PURGE_SECRET,
          params: { vsl_reclen: 4084 },
        });
        varnish.push(v);
        procs.push(v);
      }
      const redis = await startRedis({ dir: join(ctx.dir, 'redis') });
      procs.push(redis);
      const port = await freePort();
      const purgerUrl = `http://127.0.0.1:${port}`;
      const purger = await startProcess({
        name: 'cache-purger',
        command: process.execPath,
        args: [join(ctx.root, 'cache-purger/src/server.ts')],
        env: {
          PATH: process.env.PATH,
          PURGER_HOST: '127.0.0.1',
          PURGER_PORT: String(port),
          REDIS_URL: redis.url,
          REGISTRY_FILE: registryFile,
          VARNISH_NODES: varnish.map((v) => `${v.name}=http://127.0.0.1:${v.port}`).join(','),
          VARNISH_PURGE_SECRET: PURGE_SECRET,
          WEBHOOK_SECRET_ALPHA: SECRET,
          PURGE_COALESCE_MS: String(COALESCE_MS),
          LOG_LEVEL: 'warn',
        },
        logFile: join(ctx.dir, 'purger.log'),
        ready: { http: `${purgerUrl}/healthz`, status: 200 },
      });
      procs.push(purger);
      const drained = async (url = purgerUrl, queues = 3) => {
        for (let i = 0; i < 1500; i++) {
          const m = await (await fetch(`${url}/metrics`)).text();
          const depths = [...m.matchAll(/purger_queue_depth\{node="[a-z0-9-]+"\} (\d+)/g)].map((x) =>
            Number(x[1]),
          );
          if (depths.length >= queues && depths.every((d) => d === 0)) return;
          await sleep(200);
        }
        throw new Error('the purger did not drain its queue within 300 s');
      };

      ctx.log('baseline: xkey PURGE straight to one Varnish node, 50 connections ...');
      const direct = await load({
        mode: 'varnish',
        url: `http://127.0.0.1:${varnish[0]!.port}`,
        seconds: ctx.seconds,
        connections: 50,
        tagPrefix: 'd-',
      });
      ctx.log('purger: signed webhooks, 50 connections ...');
      const intake = await load({
        mode: 'webhook',
        url: purgerUrl,
        seconds: ctx.seconds,
        connections: 50,
        tagPrefix: 't-',
      });
      await drained();

      ctx.log('latency at 500 purges/s: webhook → applied on all 3 nodes ...');
      const logs: ManagedProcess[] = [];
      for (const v of varnish) {
        const file = join(ctx.dir, `${v.name}-purges.log`);
        logs.push(
          await startProcess({
            name: `${v.name}-log`,
            command: 'varnishlog',
            args: [
              '-n',
              join(ctx.dir, v.name, 'work'),
              '-u',
              '-g',
              'request',
              '-q',
              'ReqMethod eq "PURGE"',
              '-i',
              'ReqHeader,Timestamp',
            ],
            logFile: file,
          }),
        );
      }
      procs.push(...logs);
      await sleep(1000); // varnishlog attaches to the shared memory log
      const sendsFile = join(ctx.dir, 'sends.txt');
      const paced = await load({
        mode: 'webhook',
        url: purgerUrl,
        seconds: ctx.seconds,
        connections: 50,
        rate: 500,
        tagPrefix: 'l-',
        sendsFile,
      });
      await drained();
      await sleep(500);
      const applied = varnish.map((v) => appliedTimes(join(ctx.dir, `${v.name}-purges.log`)));
      const lat: number[] = [];
      let missing = 0;
      for (const line of readFileSync(sendsFile, 'utf8').split('\n')) {
        const [tag, t] = line.split(' ');
        if (!tag || !t) continue;
        const times = applied.map((m) => m.get(tag));
        if (times.some((x) => x === undefined)) {
          missing++;
          continue;
        }
        lat.push(Math.max(...(times as number[])) - Number(t));
      }
      lat.sort((a, b) => a - b);
      const pct = (p: number) =>
        Math.round((lat[Math.min(lat.length - 1, Math.floor(lat.length * p))] ?? 0) * 10) / 10;
      ctx.log('baseline latency at 500 purges/s straight to one node ...');
      const directPaced = await load({
        mode: 'varnish',
        url: `http://127.0.0.1:${varnish[0]!.port}`,
        seconds: ctx.seconds,
        connections: 50,
        rate: 500,
        tagPrefix: 'dl-',
      });

      // The first purger leaves; the backlog purger takes the same Redis (its groups are drained).
      await purger.stop();
      const backlog = await ctx.phase('backlog', () =>
        backlogScenarios({ ctx, redisUrl: redis.url, registryFile, varnish, load, drained, procs }),
      );

      for (const [name, r] of Object.entries({ direct, intake, paced, directPaced }))
        if (r.errors || r.non2xx)
          throw new Error(`${name}: ${r.errors} errors and ${r.non2xx} non-2xx answers`);
      if (missing) throw new Error(`${missing} paced purges never reached all 3 nodes`);
      return {
        figures: {
          accepted_webhooks_per_s: intake.rps,
          webhook_p99_ms: intake.p99,
          direct_varnish_purges_per_s: direct.rps,
          direct_varnish_p99_ms: direct.p99,
          applied_all_nodes_p50_ms: pct(0.5),
          applied_all_nodes_p99_ms: pct(0.99),
          applied_samples: lat.length,
          direct_one_node_p99_ms_at_500: directPaced.p99,
          coalesce_window_ms: COALESCE_MS,
          ...(backlog ?? {}),
        },
        ratios: {
          intake_vs_direct_varnish: ratio(intake.rps, direct.rps),
          applied_p99_vs_direct_p99: ratio(pct(0.99), directPaced.p99),
        },
        goals: {
          accepted_webhooks_per_s: { min: 5000 },
          applied_all_nodes_p99_ms: { max: COALESCE_MS + 25 },
          backlog_whole_host_bans: { max: 0 },
          backlog_whole_site_edge_purges: { max: 0 },
          backlog_whole_site_cloudflare_purges: { max: 0 },
          backlog_cloudflare_calls_over_30_urls: { max: 0 },
          backlog_urls_missing: { max: 0 },
        },
        notes: [
          'accepted = 202 after XADD (durable in Redis, AOF everysec); the direct baseline is not durable and reaches one node only',
          `applied latency: send start → the last of the 3 nodes logs the PURGE (varnishlog Timestamp Resp); coalescing window ${COALESCE_MS} ms`,
          'load generator: cache-purger/src/tools/webhook-load.ts (signs each webhook), its own process, same 2-core machine',
          'backlog: varnish-2 SIGSTOP 20 s under 80 single-URL webhooks/s (one site), then 10,000 single-URL webhooks (50 connections); edge = recording stand-in, Cloudflare = cloudflare-api-standin (pro, CLOUDFLARE_URLS_PER_CALL=30); whole-host/whole-site counts from the targets themselves',
        ],
      };
    } finally {
      for (const p of procs.reverse()) await p.stop().catch(() => {});
    }
  },
};

/** Figures of the backlog phase (see the file's comment, part 3). */
async function backlogScenarios(o: {
  ctx: Parameters<Benchmark['run']>[0];
  redisUrl: string;
  registryFile: string;
  varnish: VarnishInstance[];
  load: (spec: Record<string, unknown>) => Promise<LoadResult>;
  drained: (url: string, queues: number) => Promise<void>;
  procs: { stop(): Promise<void> }[];
}): Promise<Record<string, number>> {
  const { ctx, varnish } = o;
  // The edge worker's purge endpoint, recorded: every body the purger sends it.
  const edgeBodies: { site: string; urls?: string[]; all?: boolean }[] = [];
  const edge = createServer(async (req, res) => {
    let text = '';
    for await (const c of req) text += c;
    edgeBodies.push(JSON.parse(text));
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => edge.listen(0, '127.0.0.1', r));
  o.procs.push({ stop: () => new Promise<void>((r) => edge.close(() => r())) });
  const cfPort = await freePort();
  o.procs.push(
    await startProcess({
      name: 'cloudflare-api-standin',
      command: process.execPath,
      args: [join(ctx.root, 'cache-purger/src/standins/cloudflare-api-standin-cli.ts')],
      env: {
        PATH: process.env.PATH,
        CF_STANDIN_PORT: String(cfPort),
        CLOUDFLARE_API_TOKEN: 'bench-cf-token',
        CLOUDFLARE_PLAN: 'pro',
        CF_STANDIN_URLS_PER_CALL: '30',
      },
      logFile: join(ctx.dir, 'cf-standin.log'),
      ready: { tcp: cfPort },
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  o.procs.push(
    await startProcess({
      name: 'cache-purger-backlog',
      command: process.execPath,
      args: [join(ctx.root, 'cache-purger/src/server.ts')],
      env: {
        PATH: process.env.PATH,
        PURGER_HOST: '127.0.0.1',
        PURGER_PORT: String(port),
        REDIS_URL: o.redisUrl,
        REGISTRY_FILE: o.registryFile,
        VARNISH_NODES: varnish.map((v) => `${v.name}=http://127.0.0.1:${v.port}`).join(','),
        VARNISH_PURGE_SECRET: PURGE_SECRET,
        WEBHOOK_SECRET_ALPHA: SECRET,
        PURGE_COALESCE_MS: String(COALESCE_MS),
        PURGE_REQUEST_TIMEOUT_MS: '1000',
        PURGE_RETRY_MAX_MS: '1000',
        EDGE_URL: `http://127.0.0.1:${(edge.address() as AddressInfo).port}`,
        EDGE_PURGE_TOKEN: 'bench-edge-token',
        CLOUDFLARE_API_TOKEN: 'bench-cf-token',
        CLOUDFLARE_API_URL: `http://127.0.0.1:${cfPort}/client/v4`,
        CLOUDFLARE_PLAN: 'pro',
        CLOUDFLARE_URLS_PER_CALL: '30',
        CLOUDFLARE_ZONES: '*=zonebench',
        LOG_LEVEL: 'warn',
      },
      logFile: join(ctx.dir, 'purger-backlog.log'),
      ready: { http: `${url}/healthz`, status: 200 },
    }),
  );
  const depth = async (node: string) =>
    Number(
      new RegExp(`purger_queue_depth\\{node="${node}"\\} (\\d+)`).exec(
        await (await fetch(`${url}/metrics`)).text(),
      )?.[1] ?? 0,
    );

  ctx.log('backlog: varnish-2 frozen 20 s under 80 single-URL webhooks/s ...');
  const frozen = varnish[1]!;
  frozen.process.pause();
  let freeze: LoadResult;
  let frozenDepth: number;
  try {
    freeze = await o.load({
      mode: 'webhook',
      url,
      seconds: 20,
      connections: 16,
      rate: 80,
      tagPrefix: 'frozen-',
      urlHost: 'alpha.farm.test',
    });
    frozenDepth = await depth('varnish-2');
  } finally {
    frozen.process.resume();
  }
  const thawed = Date.now();
  await o.drained(url, 4);
  const drainMs = Date.now() - thawed;

  ctx.log('backlog: 10,000 single-URL webhooks, 50 connections ...');
  const burst = await o.load({
    mode: 'webhook',
    url,
    seconds: 120,
    connections: 50,
    count: 10_000,
    tagPrefix: 'burst-',
    urlHost: 'alpha.farm.test',
  });
  await o.drained(url, 4);
  for (const [name, r] of Object.entries({ freeze, burst }))
    if (r.errors || r.non2xx)
      throw new Error(`backlog ${name}: ${r.errors} errors and ${r.non2xx} non-2xx answers`);

  const metrics = await (await fetch(`${url}/metrics`)).text();
  const sum = (re: RegExp) => [...metrics.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  const cfCalls = (await (await fetch(`http://127.0.0.1:${cfPort}/__standin/calls`)).json()) as {
    kind: string;
    items: string[];
  }[];
  const want = [
    ...Array.from({ length: freeze.sent }, (_, i) => `http://alpha.farm.test/frozen-${i}/`),
    ...Array.from({ length: burst.sent }, (_, i) => `http://alpha.farm.test/burst-${i}/`),
  ];
  const atEdge = new Set(edgeBodies.flatMap((b) => b.urls ?? []));
  const atCf = new Set(cfCalls.flatMap((c) => (c.kind === 'files' ? c.items : [])));
  return {
    backlog_webhooks: freeze.sent + burst.sent,
    backlog_frozen_node_depth: frozenDepth,
    backlog_drain_after_thaw_ms: drainMs,
    backlog_burst_accepted_per_s: burst.rps,
    backlog_url_bans_per_node: Math.round(
      sum(/purger_varnish_requests_total\{node="varnish-\d",kind="ban",result="ok"\} (\d+)/g) / 3,
    ),
    backlog_whole_host_bans: sum(/purger_escalations_total\{target="varnish",reason="[a-z-]+"\} (\d+)/g),
    backlog_whole_site_edge_purges: edgeBodies.filter((b) => b.all).length,
    backlog_whole_site_cloudflare_purges: cfCalls.filter((c) => c.kind !== 'files').length,
    backlog_cloudflare_calls: cfCalls.length,
    backlog_cloudflare_calls_over_30_urls: cfCalls.filter((c) => c.items.length > 30).length,
    backlog_edge_calls: edgeBodies.length,
    backlog_urls_missing: want.filter((u) => !atEdge.has(u) || !atCf.has(u)).length,
  };
}

/** tag → epoch ms when the node answered the PURGE carrying it (varnishlog `Timestamp Resp`). */
function appliedTimes(file: string): Map<string, number> {
  const out = new Map<string, number>();
  let keys: string[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('*')) {
      keys = [];
      continue;
    }
    const h = /ReqHeader\s+xkey-purge:\s*(.*)$/.exec(line);
    if (h) keys = h[1]!.trim().split(/\s+/);
    const t = /Timestamp\s+Resp:\s+([\d.]+)/.exec(line);
    if (t) for (const k of keys) if (!out.has(k)) out.set(k, Number(t[1]) * 1000);
  }
  return out;
}

export default bench;
