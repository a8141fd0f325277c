import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startNginx } from '@wpfarm/common/peers/nginx';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { type LoadFigures, measure, ratio } from '../load.ts';
import type { Benchmark } from '../types.ts';

/**
 * The edge worker in workerd against the cheapest workers that could stand in its place, in one
 * run: on a HIT against a worker that only answers from `caches.default` (the floor), and on a
 * MISS (origin fetch + store on every request) against a bare pass-through worker. The origin is
 * nginx serving a 46 KB page for any host. Also reports the deploy bundle's size.
 */
const bench: Benchmark = {
  name: 'edge-worker',
  description:
    'edge worker HIT vs caches.default-only floor, MISS vs bare pass-through (workerd), bundle size',
  async run(ctx) {
    const html = join(ctx.dir, 'nginx', 'html');
    mkdirSync(html, { recursive: true });
    const page = `<!DOCTYPE html><html><body>${'<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>\n'.repeat(740)}</body></html>`;
    writeFileSync(join(html, 'index.html'), page);
    const nginx = await startNginx({
      dir: join(ctx.dir, 'nginx'),
      server: `root ${html}; location / { default_type text/html; try_files /index.html =404; }`,
    });
    // `hit` stays fresh for the run; `miss` is expired at once and never served stale, so every
    // request fetches the origin and stores the page again: the full MISS path.
    const registry = join(ctx.dir, 'registry.json');
    const site = (id: string, policy: Record<string, unknown>) => ({
      id,
      host: `${id}.bench.test`,
      upstream: 'http://wp:80',
      webhookSecretRef: 'WEBHOOK_SECRET_BENCH',
      policy,
    });
    writeFileSync(
      registry,
      JSON.stringify({
        version: 1,
        sites: [
          site('hit', { htmlTtl: 3600 }),
          site('miss', { htmlTtl: 0, staleWhileRevalidate: 0, staleIfError: 1 }),
        ],
      }),
    );

    const serve = join(ctx.root, 'edge-worker/src/serve.ts');
    const procs: ManagedProcess[] = [];
    const start = async (variant: 'edge' | 'floor' | 'passthrough' | 'fetchput') => {
      const port = await freePort();
      const stateDir = join(ctx.dir, variant);
      procs.push(
        await startProcess({
          name: `edge-${variant}`,
          command: process.execPath,
          args: [serve],
          cwd: join(ctx.root, 'edge-worker'),
          env: {
            ...process.env,
            EDGE_PORT: String(port),
            EDGE_VARIANT: variant,
            EDGE_STATE_DIR: stateDir,
            EDGE_REGISTRY: registry,
            ORIGIN_URL: `http://127.0.0.1:${nginx.port}`,
            EDGE_AUTH_KEY: randomBytes(24).toString('hex'),
            TRACE_SAMPLE_RATE: '0',
          },
          logFile: join(ctx.dir, `${variant}.log`),
          ready:
            variant === 'edge'
              ? { http: `http://127.0.0.1:${port}/__edge/health`, status: 200 }
              : { tcp: port },
          readyTimeoutMs: 120_000,
        }),
      );
      return { port, stateDir };
    };
    try {
      ctx.log('starting the edge worker, the floor and the pass-through in workerd ...');
      const [edge, floor, pass, fetchput] = await Promise.all([
        start('edge'),
        start('floor'),
        start('passthrough'),
        start('fetchput'),
      ]);
      const { stdout } = await promisify(execFile)(process.execPath, [
        join(ctx.root, 'edge-worker/src/bundle-size.ts'),
        join(edge.stateDir, 'dist'),
      ]);
      const size = JSON.parse(stdout) as { rawBytes: number; gzipBytes: number };

      const run = (port: number, host: string, headers: Record<string, string> = {}) =>
        measure({
          url: `http://127.0.0.1:${port}/page/`,
          seconds: ctx.seconds,
          headers: { host, ...headers },
          warmupSeconds: 1,
        });
      // Each pair is measured twice in alternating order and the better run kept (once in quick
      // mode): the local Cache API (a SQLite-backed object in workerd) makes runs noisy on 2 cores.
      const best = (a: LoadFigures, b: LoadFigures) => (a.rps >= b.rps ? a : b);
      const pair = async (
        label: string,
        base: () => Promise<LoadFigures>,
        ours: () => Promise<LoadFigures>,
      ) => {
        ctx.log(`${label} ...`);
        const b1 = await base();
        const o1 = await ours();
        if (ctx.quick) return { base: b1, ours: o1 };
        const o2 = await ours();
        const b2 = await base();
        return { base: best(b1, b2), ours: best(o1, o2) };
      };
      const hit = await pair(
        'HIT: floor vs edge',
        () => run(floor.port, 'hit.bench.test'),
        () => run(edge.port, 'hit.bench.test'),
      );
      const miss = await pair(
        'MISS: pass-through vs edge',
        () => run(pass.port, 'miss.bench.test'),
        () => run(edge.port, 'miss.bench.test'),
      );
      ctx.log('BYPASS (logged-in cookie): edge ...');
      const edgeBypass = await run(edge.port, 'hit.bench.test', { cookie: 'wordpress_logged_in_x=admin' });
      ctx.log('MISS diagnostic: pass-through + cache put ...');
      const putMiss = await run(fetchput.port, 'miss.bench.test');
      const floorHit = hit.base;
      const edgeHit = hit.ours;
      const passMiss = miss.base;
      const edgeMiss = miss.ours;
      for (const [name, r] of Object.entries({
        floorHit,
        edgeHit,
        passMiss,
        edgeMiss,
        edgeBypass,
        putMiss,
      })) {
        if (r.errors || r.non2xx)
          throw new Error(`${name}: ${r.errors} errors and ${r.non2xx} non-2xx responses`);
      }
      return {
        figures: {
          edge_hit_rps: edgeHit.rps,
          edge_hit_p99_ms: edgeHit.p99,
          floor_hit_rps: floorHit.rps,
          floor_hit_p99_ms: floorHit.p99,
          edge_miss_rps: edgeMiss.rps,
          edge_miss_p99_ms: edgeMiss.p99,
          passthrough_rps: passMiss.rps,
          passthrough_p99_ms: passMiss.p99,
          fetchput_rps: putMiss.rps,
          fetchput_p99_ms: putMiss.p99,
          edge_bypass_rps: edgeBypass.rps,
          edge_bypass_p99_ms: edgeBypass.p99,
          bundle_bytes: size.rawBytes,
          bundle_gzip_kb: Math.round((size.gzipBytes / 1024) * 10) / 10,
          page_bytes: page.length,
        },
        ratios: {
          edge_hit_vs_floor: ratio(edgeHit.rps, floorHit.rps),
          edge_miss_vs_passthrough: ratio(edgeMiss.rps, passMiss.rps),
          edge_bypass_vs_passthrough: ratio(edgeBypass.rps, passMiss.rps),
          edge_miss_vs_fetchput: ratio(edgeMiss.rps, putMiss.rps),
        },
        goals: {
          edge_hit_vs_floor: { min: 0.8 },
          edge_miss_vs_passthrough: { min: 0.8 },
          bundle_gzip_kb: { max: 100 },
        },
        notes: [
          'all three workers run in workerd (Miniflare) on this machine; origin: nginx, 46 KB page',
          'edge MISS = cache lookup + origin fetch + Cache API put on every request (site with htmlTtl 0)',
          'floor = caches.default.match and return; pass-through = fetch(ORIGIN_URL + path) and return',
          'edge BYPASS = a logged-in visitor: gate + policy + origin fetch, no Cache API work',
          'fetchput = pass-through that also caches.default.put()s every response: the MISS floor here',
          ctx.quick
            ? 'quick: one run per target'
            : 'each HIT/MISS pair: best of two runs in alternating order',
        ],
      };
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
      await nginx.stop();
    }
  },
};

export default bench;
