import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { startOtlpReceiver } from '@wpfarm/telemetry/testing/otlp-receiver';
import { startStaticPage } from '../fixtures.ts';
import { type LoadFigures, measure, ratio } from '../load.ts';
import { edgeJsonBody } from '../telemetry/spans.ts';
import type { Benchmark } from '../types.ts';

/**
 * 1. The telemetry bridge: OTLP/HTTP JSON from autocannon (50 edge spans per request) through the
 *    bridge process to a real OTLP/gRPC receiver; spans/s counts what the receiver acknowledged.
 *    Ceiling in the same run: a plain grpc-js client sending the same spans pre-encoded.
 * 2. The origin-router (back role, 46 KB page from nginx) with tracing off, on at 10 % and at
 *    100 % sampling (the telemetry preload exporting over gRPC to the same receiver).
 */
const run = promisify(execFile);
const SPANS_PER_REQUEST = 50;
const HOST = 'alpha.farm.test';

const bench: Benchmark = {
  name: 'telemetry',
  description:
    'bridge spans/s (OTLP/HTTP JSON → gRPC) vs a direct gRPC client; router req/s traced at 10 %/100 % vs off',
  async run(ctx) {
    const rx = await startOtlpReceiver(0, { countOnly: true });
    const procs: { stop(): Promise<void> }[] = [];
    try {
      // ---- 1. the bridge ----------------------------------------------------------------------
      const token = randomBytes(24).toString('base64url');
      const bridgePort = await freePort();
      const bridge = await startProcess({
        name: 'telemetry-bridge',
        command: process.execPath,
        args: [join(ctx.root, 'telemetry/src/server.ts')],
        env: {
          ...process.env,
          BRIDGE_TOKEN: token,
          BRIDGE_HOST: '127.0.0.1',
          BRIDGE_PORT: String(bridgePort),
          OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint,
          LOG_LEVEL: 'warn',
        },
        logFile: join(ctx.dir, 'bridge.log'),
        ready: { http: `http://127.0.0.1:${bridgePort}/healthz`, status: 200 },
      });
      procs.push(bridge);
      const body = edgeJsonBody(SPANS_PER_REQUEST);
      const post = (seconds: number) =>
        measure({
          url: `http://127.0.0.1:${bridgePort}/v1/traces`,
          method: 'POST',
          connections: 16,
          seconds,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body,
        });
      ctx.log('bridge: warm-up ...');
      await post(1);
      await drained(rx, bridgePort);
      const rounds = ctx.quick ? 1 : 2;
      let bestBridge = { spansPerS: 0, accepted: 0, refused: 0, p99: 0 };
      let bestDirect = 0;
      for (let round = 0; round < rounds; round++) {
        ctx.log(`round ${round + 1}/${rounds}: bridge under autocannon (${ctx.seconds} s) ...`);
        const before = rx.received;
        const t0 = performance.now();
        const f = await post(ctx.seconds);
        if (f.errors) throw new Error(`bridge: ${f.errors} socket errors`);
        // Sustained rate: everything acknowledged during the window, delivered, over the time it
        // took (window + drain). The default queue bounds the backlog, so overload shows as 429s.
        await drained(rx, bridgePort);
        const seconds = (performance.now() - t0) / 1000;
        const accepted = (f.statusCodes['200'] ?? 0) * SPANS_PER_REQUEST;
        const delivered = rx.received - before;
        if (delivered < accepted)
          throw new Error(`bridge: ${accepted} spans acknowledged, ${delivered} delivered`);
        const spansPerS = Math.round(delivered / seconds);
        if (spansPerS > bestBridge.spansPerS)
          bestBridge = { spansPerS, accepted, refused: f.statusCodes['429'] ?? 0, p99: f.p99 };

        ctx.log(`round ${round + 1}/${rounds}: direct gRPC client (${ctx.seconds} s) ...`);
        const { stdout } = await run(
          process.execPath,
          [
            join(ctx.root, 'bench/src/telemetry/direct-client.ts'),
            rx.endpoint,
            String(ctx.seconds),
            '2048',
            '4',
          ],
          { timeout: (ctx.seconds + 60) * 1000 },
        );
        const direct = JSON.parse(stdout.trim()) as { spans: number; seconds: number };
        bestDirect = Math.max(bestDirect, Math.round(direct.spans / direct.seconds));
      }
      await bridge.stop();

      // ---- 2. router tracing overhead ----------------------------------------------------------
      const { nginx } = await startStaticPage(ctx.dir);
      procs.push(nginx);
      const registryFile = join(ctx.dir, 'sites.yaml');
      writeFileSync(
        registryFile,
        `version: 1\nsites:\n  - { id: alpha, host: ${HOST}, upstream: "http://127.0.0.1:${nginx.port}", webhookSecretRef: W }\n`,
      );
      const preload = `--import=${pathToFileURL(join(ctx.root, 'telemetry/src/register.ts')).href}`;
      const variants: [string, Record<string, string>][] = [
        ['off', {}],
        ['traced_10pct', { OTEL_TRACES_SAMPLER_ARG: '0.1' }],
        ['traced_100pct', { OTEL_TRACES_SAMPLER_ARG: '1' }],
      ];
      const routers = new Map<string, { proc: ManagedProcess; port: number }>();
      for (const [name, extra] of variants) {
        const port = await freePort();
        const traced = name !== 'off';
        const proc = await startProcess({
          name: `router-${name}`,
          command: process.execPath,
          args: [join(ctx.root, 'origin-router/src/server.ts')],
          env: {
            ...process.env,
            ROUTER_ROLE: 'back',
            HOST: '127.0.0.1',
            PORT: String(port),
            METRICS_HOST: '127.0.0.1',
            METRICS_PORT: String(await freePort()),
            REGISTRY_FILE: registryFile,
            TRUSTED_HOPS: '127.0.0.1/32',
            LOG_LEVEL: 'warn',
            DRAIN_DELAY_MS: '0',
            NODE_OPTIONS: `--max-semi-space-size=4${traced ? ` ${preload}` : ''}`,
            ...(traced
              ? { OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint, OTEL_SERVICE_NAME: `router-${name}` }
              : {}),
            ...extra,
          },
          logFile: join(ctx.dir, `router-${name}.log`),
          ready: { http: `http://127.0.0.1:${port}/ping`, status: 200 },
        });
        procs.push(proc);
        routers.set(name, { proc, port });
      }
      const load = (port: number) =>
        measure({
          url: `http://127.0.0.1:${port}/`,
          connections: 50,
          seconds: ctx.seconds,
          headers: { host: HOST },
          warmupSeconds: 1,
        });
      const best = new Map<string, LoadFigures>();
      const routerRounds = ctx.quick ? 2 : 3;
      for (let round = 0; round < routerRounds; round++)
        for (let k = 0; k < variants.length; k++) {
          const [name] = variants[(k + round) % variants.length]!;
          ctx.log(`round ${round + 1}/${routerRounds}: router, tracing ${name} ...`);
          const before = rx.received;
          const f = await load(routers.get(name)!.port);
          if (f.errors || f.non2xx)
            throw new Error(`router ${name}: ${f.errors} errors, ${f.non2xx} non-2xx`);
          // Tracing must really happen in the traced phases (spans at the receiver), or the ratio
          // would pass vacuously.
          if (name !== 'off') {
            await new Promise((r) => setTimeout(r, 1500));
            if (rx.received === before) throw new Error(`router ${name}: no span reached the receiver`);
          }
          const prev = best.get(name);
          if (!prev || f.rps > prev.rps) best.set(name, f);
        }
      const off = best.get('off')!;
      const t10 = best.get('traced_10pct')!;
      const t100 = best.get('traced_100pct')!;

      return {
        figures: {
          bridge_spans_per_s: bestBridge.spansPerS,
          bridge_accepted_spans: bestBridge.accepted,
          bridge_refused_requests: bestBridge.refused,
          bridge_post_p99_ms: bestBridge.p99,
          direct_grpc_spans_per_s: bestDirect,
          router_off_rps: off.rps,
          router_traced_10pct_rps: t10.rps,
          router_traced_100pct_rps: t100.rps,
          router_off_p99_ms: off.p99,
          router_traced_10pct_p99_ms: t10.p99,
          router_traced_100pct_p99_ms: t100.p99,
        },
        ratios: {
          bridge_vs_direct_grpc: ratio(bestBridge.spansPerS, bestDirect),
          router_traced_10pct_vs_off: ratio(t10.rps, off.rps),
          router_traced_100pct_vs_off: ratio(t100.rps, off.rps),
        },
        goals: {
          bridge_spans_per_s: { min: 50_000 },
          router_traced_10pct_vs_off: { min: 0.9 },
        },
        notes: [
          `Bridge: ${SPANS_PER_REQUEST} spans per POST, 16 connections, default queue (200k spans; 429 beyond); spans/s = spans the gRPC receiver acknowledged / (load window + time to drain the queue). Direct: grpc-js client, 2048-span pre-encoded requests, 4 in flight.`,
          'The receiver (grpc-js, official OTLP protos, decoding every request) runs in the benchmark process; the bridge, the direct client and autocannon in their own.',
          `Router: back role proxying a 46 KB page from nginx, 50 connections, requests without traceparent (the root ratio sampler decides); best of ${routerRounds} rotated rounds per variant. 2 spans per sampled request (server + upstream attempt).`,
        ],
      };
    } finally {
      for (const p of procs.reverse()) await p.stop().catch(() => {});
      await rx.stop();
    }
  },
};

/** Waits until the bridge's queue is empty (everything accepted was delivered or dropped). */
async function drained(rx: { received: number }, port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const h = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { queueSpans: number };
    if (h.queueSpans === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the bridge did not drain (receiver has ${rx.received} spans)`);
}

export default bench;
