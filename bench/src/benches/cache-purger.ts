import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
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
      const drained = async () => {
        for (let i = 0; i < 600; i++) {
          const m = await (await fetch(`${purgerUrl}/metrics`)).text();
          const depths = [...m.matchAll(/purger_queue_depth\{node="varnish-\d"\} (\d+)/g)].map((x) =>
            Number(x[1]),
          );
          if (depths.length === 3 && depths.every((d) => d === 0)) return;
          await sleep(200);
        }
        throw new Error('the purger did not drain its queue within 120 s');
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
        },
        ratios: {
          intake_vs_direct_varnish: ratio(intake.rps, direct.rps),
          applied_p99_vs_direct_p99: ratio(pct(0.99), directPaced.p99),
        },
        goals: {
          accepted_webhooks_per_s: { min: 5000 },
          applied_all_nodes_p99_ms: { max: COALESCE_MS + 25 },
        },
        notes: [
          'accepted = 202 after XADD (durable in Redis, AOF everysec); the direct baseline is not durable and reaches one node only',
          `applied latency: send start → the last of the 3 nodes logs the PURGE (varnishlog Timestamp Resp); coalescing window ${COALESCE_MS} ms`,
          'load generator: cache-purger/src/tools/webhook-load.ts (signs each webhook), its own process, same 2-core machine',
        ],
      };
    } finally {
      for (const p of procs.reverse()) await p.stop().catch(() => {});
    }
  },
};

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
