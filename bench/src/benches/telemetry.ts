import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { routerProcessEnv } from '@wpfarm/origin-router/runtime';
import { type OtlpReceiver, startOtlpReceiver } from '@wpfarm/telemetry/testing/otlp-receiver';
import { startStaticPage } from '../fixtures.ts';
import { type LoadFigures, measure, ratio } from '../load.ts';
import { affinity, clockTicks, cpuTicks, pin } from '../proc.ts';
import { edgeJsonBody } from '../telemetry/spans.ts';
import type { BenchContext, Benchmark, BenchResult } from '../types.ts';

/**
 * 1. The telemetry bridge: OTLP/HTTP JSON from autocannon (50 edge spans per request) through the
 *    bridge process to a real OTLP/gRPC receiver; spans/s counts what the receiver acknowledged.
 *    Ceiling in the same run: a plain grpc-js client sending the same spans pre-encoded.
 * 2. The origin-router (back role, 46 KB page from nginx) with tracing off, on at 10 % and at
 *    100 % sampling (the telemetry preload exporting over gRPC to a receiver), alternating rounds.
 */
const run = promisify(execFile);
const SPANS_PER_REQUEST = 50;
const BRIDGE_CONNECTIONS = 16;
const DIRECT_BATCH = 2048; // the bridge's BRIDGE_BATCH_SPANS default: both send the same request size
const DIRECT_IN_FLIGHT = 4; // the bridge's BRIDGE_EXPORT_CONCURRENCY default
const ROUTER_CONNECTIONS = 50;
const HOST = 'alpha.farm.test';

type Part = Pick<BenchResult, 'figures' | 'ratios' | 'notes'>;

const bench: Benchmark = {
  name: 'telemetry',
  description:
    'bridge spans/s (OTLP/HTTP JSON → gRPC, delivered) vs a direct gRPC client; router req/s traced at 10 %/100 % vs off',
  async run(ctx) {
    const bridge = await bridgeThroughput(ctx);
    const router = await tracingOverhead(ctx);
    return {
      figures: { ...bridge.figures, ...router.figures },
      ratios: { ...bridge.ratios, ...router.ratios },
      goals: {
        bridge_spans_per_s: { min: 50_000 },
        router_traced_10pct_vs_off: { min: 0.9 },
      },
      notes: [...(bridge.notes ?? []), ...(router.notes ?? [])],
    };
  },
};

/** Part 1: spans/s through the bridge process, against the receiver fed directly over gRPC. */
async function bridgeThroughput(ctx: BenchContext): Promise<Part> {
  const rx = await startOtlpReceiver(0, { countOnly: true });
  let bridge: ManagedProcess | undefined;
  try {
    const token = randomBytes(24).toString('base64url');
    const port = await freePort();
    bridge = await startProcess({
      name: 'telemetry-bridge',
      command: process.execPath,
      args: [join(ctx.root, 'telemetry/src/server.ts')],
      env: {
        ...withoutOtel(process.env),
        BRIDGE_TOKEN: token,
        BRIDGE_HOST: '127.0.0.1',
        BRIDGE_PORT: String(port),
        OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint,
        LOG_LEVEL: 'warn',
      },
      logFile: join(ctx.dir, 'bridge.log'),
      ready: { http: `http://127.0.0.1:${port}/healthz`, status: 200 },
    });
    // One body, sent over and over: the bridge neither deduplicates nor caches, so the same ids
    // cost what fresh ones would.
    const body = edgeJsonBody(SPANS_PER_REQUEST);
    const post = (seconds: number) =>
      measure({
        url: `http://127.0.0.1:${port}/v1/traces`,
        method: 'POST',
        connections: BRIDGE_CONNECTIONS,
        seconds,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      });
    ctx.log('bridge: warm-up (1 s) ...');
    await post(1);
    await drained(port, rx);

    const rounds = ctx.quick ? 1 : 2;
    let best = { spansPerS: 0, accepted: 0, refused: 0, p99: 0, drainS: 0 };
    let direct = 0;
    for (let round = 1; round <= rounds; round++) {
      const before = rx.received;
      const t0 = performance.now();
      const f = await post(ctx.seconds);
      const unexpected = Object.keys(f.statusCodes).filter((c) => c !== '200' && c !== '429');
      if (f.errors || unexpected.length)
        throw new Error(`bridge: ${f.errors} socket errors, statuses ${JSON.stringify(f.statusCodes)}`);
      // Sustained rate: everything acknowledged by the receiver from the start of the window until
      // the queue is empty again, over that time. The default queue (200k spans) bounds the backlog,
      // so offering more than the bridge delivers shows as 429s, not as a rate it cannot keep.
      const tLoad = performance.now();
      await drained(port, rx);
      const t1 = performance.now();
      const accepted = (f.statusCodes['200'] ?? 0) * SPANS_PER_REQUEST;
      const delivered = rx.received - before;
      if (delivered < accepted)
        throw new Error(`bridge: ${accepted} spans acknowledged, ${delivered} delivered`);
      const spansPerS = Math.round(delivered / ((t1 - t0) / 1000));
      ctx.log(
        `bridge round ${round}/${rounds}: ${spansPerS.toLocaleString('en-US')} spans/s delivered, ${f.statusCodes['429'] ?? 0} × 429, drained in ${((t1 - tLoad) / 1000).toFixed(1)} s`,
      );
      if (spansPerS > best.spansPerS)
        best = {
          spansPerS,
          accepted,
          refused: f.statusCodes['429'] ?? 0,
          p99: f.p99,
          drainS: (t1 - tLoad) / 1000,
        };

      const { stdout } = await run(
        process.execPath,
        [
          join(ctx.root, 'bench/src/telemetry/direct-client.ts'),
          rx.endpoint,
          String(ctx.seconds),
          String(DIRECT_BATCH),
          String(DIRECT_IN_FLIGHT),
        ],
        { timeout: (ctx.seconds + 60) * 1000 },
      );
      const d = JSON.parse(stdout.trim()) as { spans: number; failures: number; seconds: number };
      if (d.failures) throw new Error(`direct gRPC client: ${d.failures} failed exports`);
      const directPerS = Math.round(d.spans / d.seconds);
      ctx.log(`direct round ${round}/${rounds}: ${directPerS.toLocaleString('en-US')} spans/s`);
      direct = Math.max(direct, directPerS);
    }
    return {
      figures: {
        bridge_spans_per_s: best.spansPerS,
        bridge_accepted_spans: best.accepted,
        bridge_429_requests: best.refused,
        bridge_post_p99_ms: best.p99,
        direct_grpc_spans_per_s: direct,
      },
      ratios: { bridge_vs_direct_grpc: ratio(best.spansPerS, direct) },
      notes: [
        `Bridge: ${SPANS_PER_REQUEST} edge spans per POST (OTLP/HTTP JSON, 8 attributes each), ${BRIDGE_CONNECTIONS} connections for ${ctx.seconds} s, default config (200k-span queue, 429 beyond; 2048-span batches, 4 exports in flight); spans/s = spans the gRPC receiver acknowledged from the start of the window until the queue was empty (${best.drainS.toFixed(1)} s of drain), over that time; best of ${rounds}.`,
        `Direct (ceiling, no goal): a grpc-js client sending the same spans pre-encoded, ${DIRECT_BATCH} per request, ${DIRECT_IN_FLIGHT} in flight, to the same receiver; the bridge's gap to it is JSON parsing, clean-up and re-encoding. The receiver (grpc-js, official OTLP protos, decoding every request) runs in the benchmark process, which does nothing else meanwhile; bridge, client and autocannon each in their own.`,
      ],
    };
  } finally {
    await bridge?.stop();
    await rx.stop();
  }
}

interface Variant {
  key: 'off' | 'traced_10pct' | 'traced_100pct';
  sampler?: string;
  rx?: OtlpReceiver;
  proc?: ManagedProcess;
  port?: number;
  /** Requests answered, warm-up included (every one may have been sampled). */
  requests: number;
  rounds: { rps: number; p99: number; cpuUsPerReq: number; busyPct: number }[];
}

/** Part 2: the back router's req/s with tracing off, at 10 % and at 100 %, alternating rounds. */
async function tracingOverhead(ctx: BenchContext): Promise<Part> {
  const variants: Variant[] = [
    { key: 'off', requests: 0, rounds: [] },
    { key: 'traced_10pct', sampler: '0.1', requests: 0, rounds: [] },
    { key: 'traced_100pct', sampler: '1', requests: 0, rounds: [] },
  ];
  const procs: { stop(): Promise<void> }[] = [];
  // Each router gets the last core to itself; this process, so the receivers and everything it
  // starts from now on (nginx, autocannon), the others. On two shared cores the scheduler's split
  // between router, autocannon and nginx otherwise moves req/s by ±20 % from phase to phase, far
  // more than the cost being measured; pinned, req/s is the router's single-core capacity (as
  // deployed: one process per core) as long as its core stays busy (the busy % figures).
  const last = cpus().length - 1;
  const restore = last > 0 ? affinity(process.pid) : undefined;
  const pinned = restore !== undefined && pin(process.pid, last === 1 ? '0' : `0-${last - 1}`);
  try {
    const { nginx } = await startStaticPage(ctx.dir);
    procs.push(nginx);
    const registryFile = join(ctx.dir, 'sites.yaml');
    writeFileSync(
      registryFile,
      `version: 1\nsites:\n  - { id: alpha, host: ${HOST}, upstream: "http://127.0.0.1:${nginx.port}", webhookSecretRef: W }\n`,
    );
    const preload = `--import=${pathToFileURL(join(ctx.root, 'telemetry/src/register.ts')).href}`;
    for (const v of variants) {
      // One receiver per traced variant, so each one's spans are counted exactly, whenever the
      // SDK's batch processor flushes them.
      if (v.sampler) v.rx = await startOtlpReceiver(0, { countOnly: true });
      v.port = await freePort();
      v.proc = await startProcess({
        name: `router-${v.key}`,
        command: process.execPath,
        args: [join(ctx.root, 'origin-router/src/server.ts')],
        // The deployment's runtime settings (origin-router/src/runtime.ts), in every variant.
        env: routerProcessEnv({
          ...withoutOtel(process.env),
          ROUTER_ROLE: 'back',
          HOST: '127.0.0.1',
          PORT: String(v.port),
          METRICS_HOST: '127.0.0.1',
          METRICS_PORT: String(await freePort()),
          REGISTRY_FILE: registryFile,
          TRUSTED_HOPS: '127.0.0.1/32',
          LOG_LEVEL: 'warn',
          DRAIN_DELAY_MS: '0',
          NODE_OPTIONS: [process.env.NODE_OPTIONS, v.rx && preload].filter(Boolean).join(' '),
          ...(v.rx
            ? {
                OTEL_EXPORTER_OTLP_ENDPOINT: v.rx.endpoint,
                OTEL_SERVICE_NAME: 'origin-router-back',
                OTEL_TRACES_SAMPLER_ARG: v.sampler,
              }
            : {}),
        }),
        logFile: join(ctx.dir, `router-${v.key}.log`),
        ready: { http: `http://127.0.0.1:${v.port}/ping`, status: 200 },
      });
      procs.push(v.proc);
      if (pinned) pin(v.proc.pid, String(last));
    }
    const load = (v: Variant, seconds: number) =>
      measure({
        url: `http://127.0.0.1:${v.port}/`,
        connections: ROUTER_CONNECTIONS,
        seconds,
        headers: { host: HOST },
      });
    const check = (v: Variant, f: LoadFigures) => {
      if (f.errors || f.non2xx) throw new Error(`router ${v.key}: ${f.errors} errors, ${f.non2xx} non-2xx`);
      v.requests += f.total;
    };
    ctx.log('router: warm-up of each variant (1 s) ...');
    for (const v of variants) check(v, await load(v, 1));

    // Alternating rounds, order rotated: a neighbour's burst of work slows one phase, and the
    // median per variant drops it. More, shorter rounds (full: 5 × 6 s rather than 3 × 8 s) give
    // the median more to choose from in the same time.
    const rounds = ctx.quick ? 3 : 5;
    const phaseSeconds = ctx.quick ? ctx.seconds : Math.min(ctx.seconds, 6);
    const clk = clockTicks();
    for (let round = 0; round < rounds; round++)
      for (let k = 0; k < variants.length; k++) {
        const v = variants[(k + round) % variants.length]!;
        const cpu0 = cpuTicks(v.proc!.pid);
        const t0 = performance.now();
        const f = await load(v, phaseSeconds);
        const seconds = (performance.now() - t0) / 1000;
        const cpu = (cpuTicks(v.proc!.pid) - cpu0) / clk;
        check(v, f);
        const cpuUsPerReq = f.total ? Math.round((cpu * 1e6 * 10) / f.total) / 10 : 0;
        // autocannon's start-up is inside `seconds`, so a saturated core reads a little under 100 %.
        const busyPct = Math.round((cpu / seconds) * 100);
        v.rounds.push({ rps: f.rps, p99: f.p99, cpuUsPerReq, busyPct });
        ctx.log(
          `router round ${round + 1}/${rounds}, tracing ${v.key}: ${f.rps.toLocaleString('en-US')} req/s, p99 ${f.p99} ms, ${cpuUsPerReq} µs CPU/request, router ${busyPct} % busy`,
        );
      }

    // Tracing must really have happened in the traced variants, or the ratio would pass vacuously.
    for (const v of variants)
      if (v.rx) {
        await settled(v.rx);
        if (v.rx.received === 0) throw new Error(`router ${v.key}: no span reached the receiver`);
      }

    const [off, t10, t100] = variants.map((v) => ({
      rps: median(v.rounds.map((r) => r.rps)),
      p99: median(v.rounds.map((r) => r.p99)),
      cpu: median(v.rounds.map((r) => r.cpuUsPerReq)),
      busy: median(v.rounds.map((r) => r.busyPct)),
      spansPerReq: v.rx ? Math.round((v.rx.received / v.requests) * 1000) / 1000 : 0,
    })) as [Stats, Stats, Stats];
    return {
      figures: {
        router_off_rps: off.rps,
        router_traced_10pct_rps: t10.rps,
        router_traced_100pct_rps: t100.rps,
        router_off_p99_ms: off.p99,
        router_traced_10pct_p99_ms: t10.p99,
        router_traced_100pct_p99_ms: t100.p99,
        router_off_busy_pct: off.busy,
        router_traced_10pct_busy_pct: t10.busy,
        router_traced_100pct_busy_pct: t100.busy,
        router_off_cpu_us_per_req: off.cpu,
        router_traced_10pct_cpu_us_per_req: t10.cpu,
        router_traced_100pct_cpu_us_per_req: t100.cpu,
        router_traced_10pct_spans_per_req: t10.spansPerReq,
        router_traced_100pct_spans_per_req: t100.spansPerReq,
      },
      ratios: {
        router_traced_10pct_vs_off: ratio(t10.rps, off.rps),
        router_traced_100pct_vs_off: ratio(t100.rps, off.rps),
        // The same cost seen as CPU per request (off / traced: 1 = free, lower = costlier); it
        // holds even when the load side, not the router's core, limited a phase.
        router_cpu_off_vs_traced_10pct: ratio(off.cpu, t10.cpu),
        router_cpu_off_vs_traced_100pct: ratio(off.cpu, t100.cpu),
      },
      notes: [
        `Router: back role proxying a 46 KB page from nginx (1 worker), ${ROUTER_CONNECTIONS} connections, one process per variant (all with the deployment's runtime settings, origin-router/src/runtime.ts; traced ones add the telemetry preload exporting over gRPC to their own receiver, service origin-router-back). Requests carry no traceparent: the root ratio sampler decides (spans/request = 2 × the sampled share: server + upstream attempt).`,
        pinned
          ? `Each router pinned to CPU ${last} (taskset); the benchmark process, its receivers, nginx and autocannon to the other core${last > 1 ? 's' : ''}. Busy % = the router's CPU time / phase time (autocannon's start-up counts as idle, so a saturated core reads a little under 100 %); a variant clearly less busy than the others was limited by the load side, not by its core.`
          : 'Routers NOT pinned (taskset unavailable or one core): they share every core with nginx and autocannon, and req/s moves with the scheduler.',
        `Median of ${rounds} rounds of ${phaseSeconds} s per variant, order rotated each round, after a 1 s warm-up each. CPU µs/request = the router process's user+system time during a phase / requests answered.`,
      ],
    };
  } finally {
    for (const p of procs.reverse()) await p.stop().catch(() => {});
    for (const v of variants) await v.rx?.stop();
    if (pinned && restore) pin(process.pid, restore);
  }
}

interface Stats {
  rps: number;
  p99: number;
  cpu: number;
  busy: number;
  spansPerReq: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The environment without OTEL_* variables: tracing is on only where a variant sets it. */
function withoutOtel(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('OTEL_')));
}

/** Waits until the bridge's queue is empty (everything accepted was delivered or dropped). */
async function drained(port: number, rx: OtlpReceiver): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { queueSpans: number };
    if (h.queueSpans === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the bridge did not drain in 20 s (receiver has ${rx.received} spans)`);
}

/** Waits until a receiver's count has not moved for longer than the SDK's 1 s batch delay (max 10 s). */
async function settled(rx: OtlpReceiver): Promise<void> {
  let last = -1;
  for (let i = 0; i < 20 && rx.received !== last; i++) {
    last = rx.received;
    await new Promise((r) => setTimeout(r, 1200));
  }
}

export default bench;
