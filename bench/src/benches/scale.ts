import { execFile } from 'node:child_process';
import { hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startNginx } from '@wpfarm/common/peers/nginx';
import { startRedis } from '@wpfarm/common/peers/redis';
import { startVarnish } from '@wpfarm/common/peers/varnish';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { routerProcessEnv } from '@wpfarm/origin-router/runtime';
import { measure, ratio } from '../load.ts';
import { peakRss } from '../proc.ts';
import { measureSchemas } from '../scale/mariadb.ts';
import { scaleRegistry } from '../scale/registry.ts';
import { ttlHitRate } from '../scale/zipf.ts';
import type { BenchContext, Benchmark } from '../types.ts';

/**
 * How each cost of the request path grows with the farm: generated registries of 50, 500 and
 * 5,000 sites (aliases, mixed policies; scale/registry.ts), and 50,000 where the component is
 * meant to reach it, in one run. Each part is a phase: one failing is reported as that phase's
 * failure and the others still run.
 *
 * - edge: host routing in a V8 isolate of its own (scale/edge-cpu.ts): the cold first request
 *   (read and parse the host map) and warm CPU per request, for the one-document layout and the
 *   sharded one (edge-worker/src/host-map.ts);
 * - generator: infra/src/render.ts on the registry (scale/render-cost.ts);
 * - origin-router (front): RSS, req/s and a registry rewrite every 5 s under load;
 * - cache-purger: signed-webhook intake and RSS with every site's secret loaded;
 * - varnish: hit rate under Zipf traffic, then an hour's (quick) or a day's (full) URL bans for
 *   5,000 sites: ban-list length and the lurker's time to clear it;
 * - mariadb: one Galera node holding N WordPress databases (scale/mariadb.ts).
 */
const run = promisify(execFile);
const SIZES = [50, 500, 5000] as const;
const BIG = 50_000;
const EDGE_AUTH = randomBytes(24).toString('hex');
/** Post changes per site per day, and bans each one sends (the mu-plugin's URL set, about 15). */
const CHANGES_PER_SITE_DAY = 20;
const URLS_PER_CHANGE = 15;

async function node<T>(ctx: BenchContext, args: string[], timeoutMs = 600_000): Promise<T> {
  const { stdout } = await run(process.execPath, args, {
    cwd: ctx.root,
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as T;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const r2 = (n: number) => Math.round(n * 100) / 100;

async function edgePhase(ctx: BenchContext, out: Record<string, number>) {
  const tool = join(ctx.root, 'bench/src/scale/edge-cpu.ts');
  const coldRuns = ctx.quick ? 3 : 7;
  for (const layout of ['document', 'sharded'] as const) {
    for (const sites of [...SIZES, BIG]) {
      ctx.log(`edge: ${layout} layout, ${sites} sites: cold isolate ×${coldRuns} ...`);
      const cold: { ms: number; valueBytes: number; heapMb: number }[] = [];
      for (let i = 0; i < coldRuns; i++)
        cold.push(await node(ctx, ['--expose-gc', tool, JSON.stringify({ sites, layout, mode: 'cold' })]));
      out[`edge_cold_ms_${layout}_${sites}`] = r2(median(cold.map((c) => c.ms)));
      out[`edge_kv_read_kb_${layout}_${sites}`] = Math.round((cold[0]?.valueBytes ?? 0) / 1024);
      out[`edge_heap_mb_${layout}_${sites}`] = r2(median(cold.map((c) => c.heapMb)));
    }
    const sizes = ctx.quick ? [...SIZES] : [...SIZES, BIG];
    ctx.log(`edge: ${layout} layout: warm routing at ${sizes.join(', ')} sites, alternating ...`);
    const warm = await node<{ nsPerRequest: Record<string, number> }>(ctx, [
      tool,
      JSON.stringify({ sites: 0, sizes, layout, mode: 'warm', requests: ctx.quick ? 200_000 : 400_000 }),
    ]);
    for (const [sites, ns] of Object.entries(warm.nsPerRequest))
      out[`edge_warm_ns_${layout}_${sites}`] = Math.round(ns);
  }
}

async function generatorPhase(ctx: BenchContext, out: Record<string, number>) {
  for (const sites of ctx.quick ? [5000] : [5000, BIG]) {
    ctx.log(`generator: rendering ${sites} sites' stacks ...`);
    const dir = join(ctx.dir, `render-${sites}`);
    const r = await node<{
      validateS: number;
      renderS: number;
      writeS: number;
      peakRssMb: number;
      files: number;
      mb: number;
    }>(ctx, [join(ctx.root, 'bench/src/scale/render-cost.ts'), String(sites), dir]);
    rmSync(dir, { recursive: true, force: true });
    out[`generator_s_${sites}`] = r2(r.validateS + r.renderS + r.writeS);
    out[`generator_rss_mb_${sites}`] = r.peakRssMb;
    out[`generator_files_${sites}`] = r.files;
    out[`generator_output_mb_${sites}`] = Math.round(r.mb);
  }
}

/** A 16 KB page for any host and path: the size of a gzipped WordPress page, so many fit in the cache. */
async function startPageOrigin(ctx: BenchContext) {
  const html = join(ctx.dir, 'nginx', 'html');
  mkdirSync(html, { recursive: true });
  writeFileSync(
    join(html, 'index.html'),
    `<!DOCTYPE html><html><body>${'<p>scale</p>\n'.repeat(1300)}</body></html>`,
  );
  return startNginx({
    dir: join(ctx.dir, 'nginx'),
    server: `root ${html}; location / { default_type text/html; try_files /index.html =404; }`,
  });
}

async function routerPhase(ctx: BenchContext, out: Record<string, number>, varnishPort: number) {
  const server = join(ctx.root, 'origin-router/src/server.ts');
  type Router = {
    sites: number;
    file: string;
    doc: ReturnType<typeof scaleRegistry>;
    port: number;
    metricsPort: number;
    proc: ManagedProcess;
  };
  const routers: Router[] = [];
  try {
    for (const sites of SIZES) {
      const dir = join(ctx.dir, `router-${sites}`);
      mkdirSync(dir, { recursive: true });
      const file = join(dir, 'sites.json');
      const doc = scaleRegistry(sites);
      writeFileSync(file, JSON.stringify(doc));
      const port = await freePort();
      const metricsPort = await freePort();
      const proc = await startProcess({
        name: `router-${sites}`,
        command: process.execPath,
        args: [server],
        env: routerProcessEnv({
          ...process.env,
          ROUTER_ROLE: 'front',
          HOST: '127.0.0.1',
          PORT: String(port),
          METRICS_HOST: '127.0.0.1',
          METRICS_PORT: String(metricsPort),
          REGISTRY_FILE: file,
          VARNISH_NODES: `varnish-1=127.0.0.1:${varnishPort}`,
          EDGE_AUTH_KEYS: EDGE_AUTH,
          LOG_LEVEL: 'warn',
          DRAIN_DELAY_MS: '0',
        }),
        logFile: join(dir, 'router.log'),
        ready: { http: `http://127.0.0.1:${port}/ping`, status: 200 },
      });
      routers.push({ sites, file, doc, port, metricsPort, proc });
    }
    const reloadsOk = async (r: Router) => {
      const text = await (await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`)).text();
      return Number(/router_registry_reloads_total\{[^}]*result="ok"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    const seconds = ctx.quick ? 6 : 16;
    const rounds = 3;
    // Every size runs in each round, order rotated, best req/s kept: the machine is shared, and
    // interference only ever slows a run down. Failures and reloads add up over every round.
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < routers.length; k++) {
        const r = routers[(k + round) % routers.length]!;
        const host = r.doc.sites[Math.floor(r.sites / 2)]!.host;
        const headers = { host, 'x-edge-auth': EDGE_AUTH, 'x-edge-host': host };
        await fetch(`http://127.0.0.1:${r.port}/`, { headers }).then((x) => x.arrayBuffer());
        const before = await reloadsOk(r);
        // A registry rewrite (atomic rename, as a deploy does) every 5 s from 0.5 s on, under load.
        let writes = 0;
        let stop = false;
        const rewrites = (async () => {
          await sleep(500);
          while (!stop) {
            writes++;
            r.doc.sites[0]!.policy.htmlTtl = 300 + round * 100 + writes;
            writeFileSync(`${r.file}.tmp`, JSON.stringify(r.doc));
            renameSync(`${r.file}.tmp`, r.file);
            for (let i = 0; i < 50 && !stop; i++) await sleep(100);
          }
        })();
        ctx.log(
          `origin-router round ${round + 1}/${rounds}: ${r.sites} sites, ${seconds} s of load, a registry rewrite every 5 s ...`,
        );
        const m = await peakRss(
          r.proc.pid,
          measure({ url: `http://127.0.0.1:${r.port}/`, connections: 50, seconds, headers }).finally(() => {
            stop = true;
          }),
        );
        await rewrites;
        await sleep(1500); // the last rewrite's debounce
        const n = r.sites;
        out[`router_rps_${n}`] = Math.max(out[`router_rps_${n}`] ?? 0, m.result.rps);
        out[`router_rss_mb_${n}`] = Math.max(out[`router_rss_mb_${n}`] ?? 0, Math.round(m.rss / 1024 / 1024));
        out[`router_failed_requests_${n}`] =
          (out[`router_failed_requests_${n}`] ?? 0) + m.result.errors + m.result.non2xx;
        out[`router_registry_rewrites_${n}`] = (out[`router_registry_rewrites_${n}`] ?? 0) + writes;
        out[`router_reloads_ok_${n}`] = (out[`router_reloads_ok_${n}`] ?? 0) + (await reloadsOk(r)) - before;
      }
    }
  } finally {
    await Promise.all(routers.map((r) => r.proc.stop()));
  }
}

async function purgerPhase(ctx: BenchContext, out: Record<string, number>) {
  const purgeSecret = randomBytes(16).toString('hex');
  const dead = await freePort();
  const procs: { stop(): Promise<void> }[] = [];
  type Purger = { sites: number; url: string; pid: number; site: string; secret: string };
  const purgers: Purger[] = [];
  try {
    const varnish = await startVarnish({
      name: 'varnish-purge',
      dir: join(ctx.dir, 'varnish-purge'),
      backend: { host: '127.0.0.1', port: dead },
      purgeSecret,
    });
    procs.push(varnish);
    for (const sites of [50, 5000]) {
      const dir = join(ctx.dir, `purger-${sites}`);
      const secrets = join(dir, 'secrets');
      mkdirSync(secrets, { recursive: true });
      const doc = scaleRegistry(sites);
      writeFileSync(join(dir, 'sites.json'), JSON.stringify(doc));
      // One Docker-secret file per site, as the purger reads them today (WEBHOOK_SECRETS_DIR).
      for (const s of doc.sites)
        writeFileSync(join(secrets, s.webhookSecretRef), randomBytes(32).toString('hex'));
      const site = doc.sites[Math.floor(sites / 2)]!;
      // Each purger its own Redis: two purgers on one Redis would share their streams.
      const redis = await startRedis({ dir: join(dir, 'redis') });
      procs.push(redis);
      const port = await freePort();
      const purger = await startProcess({
        name: `purger-${sites}`,
        command: process.execPath,
        args: [join(ctx.root, 'cache-purger/src/server.ts')],
        env: {
          PATH: process.env.PATH,
          PURGER_HOST: '127.0.0.1',
          PURGER_PORT: String(port),
          REDIS_URL: redis.url,
          REGISTRY_FILE: join(dir, 'sites.json'),
          WEBHOOK_SECRETS_DIR: secrets,
          VARNISH_NODES: `varnish-1=http://127.0.0.1:${varnish.port}`,
          VARNISH_PURGE_SECRET: purgeSecret,
          PURGE_COALESCE_MS: '50',
          LOG_LEVEL: 'warn',
        },
        logFile: join(dir, 'purger.log'),
        ready: { http: `http://127.0.0.1:${port}/healthz`, status: 200 },
      });
      procs.push(purger);
      purgers.push({
        sites,
        url: `http://127.0.0.1:${port}`,
        pid: purger.pid,
        site: site.id,
        secret: readFileSync(join(secrets, site.webhookSecretRef), 'utf8'),
      });
    }
    // The alternative to 5,000 secret files: each site's secret derived from one master key
    // (HKDF-SHA256, info = site id and generation), all of them at start.
    const master = randomBytes(32);
    const d0 = performance.now();
    for (let i = 0; i < 5000; i++) hkdfSync('sha256', master, '', `wpfarm webhook|site-${i}|1`, 32);
    out.purger_hkdf_derive_all_ms_5000 = r2(performance.now() - d0);
    const rounds = ctx.quick ? 2 : 3;
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < purgers.length; k++) {
        const p = purgers[(k + round) % purgers.length]!;
        ctx.log(
          `cache-purger round ${round + 1}/${rounds}: ${p.sites} sites' secrets, signed webhooks for ${ctx.seconds} s ...`,
        );
        const m = await peakRss(
          p.pid,
          node<{ rps: number; ok: number; errors: number; non2xx: number }>(ctx, [
            join(ctx.root, 'cache-purger/src/tools/webhook-load.ts'),
            JSON.stringify({
              mode: 'webhook',
              url: p.url,
              seconds: ctx.seconds,
              connections: 50,
              site: p.site,
              secret: p.secret,
              tagPrefix: `r${round}-`,
            }),
          ]),
        );
        if (m.result.errors || m.result.non2xx)
          throw new Error(
            `purger at ${p.sites} sites: ${m.result.errors} errors, ${m.result.non2xx} non-2xx`,
          );
        out[`purger_intake_rps_${p.sites}`] = Math.max(
          out[`purger_intake_rps_${p.sites}`] ?? 0,
          m.result.rps,
        );
        out[`purger_rss_mb_${p.sites}`] = Math.max(
          out[`purger_rss_mb_${p.sites}`] ?? 0,
          Math.round(m.rss / 1024 / 1024),
        );
      }
    }
  } finally {
    for (const p of procs.reverse()) await p.stop();
  }
}

async function varnishStat(workDir: string): Promise<Record<string, number>> {
  const { stdout } = await run('varnishstat', [
    '-n',
    workDir,
    '-1',
    '-f',
    'MAIN.bans',
    '-f',
    'MAIN.n_object',
    '-f',
    'MAIN.bans_lurker_tests_tested',
    '-f',
    'MAIN.bans_completed',
  ]);
  return Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .map(([k, v]) => [k?.replace('MAIN.', ''), Number(v)]),
  );
}

async function varnishPhase(
  ctx: BenchContext,
  out: Record<string, number>,
  port: number,
  workDir: string,
  purgeSecret: string,
) {
  const tool = join(ctx.root, 'bench/src/scale/traffic.ts');
  const sites = 5000;
  const pages = 1000;
  const requests = ctx.quick ? 15_000 : 100_000;
  type Traffic = { ok: number; errors: number; non2xx: number; hits: number; misses: number; rps: number };
  ctx.log(`varnish: ${requests} GETs over ${sites} sites × ${pages} pages (Zipf) to fill the cache ...`);
  await node<Traffic>(ctx, [
    tool,
    JSON.stringify({ mode: 'get', port, sites, pages, requests, connections: 32, seed: 3 }),
  ]);
  ctx.log('varnish: the same traffic again, measured ...');
  const get = await node<Traffic>(ctx, [
    tool,
    JSON.stringify({ mode: 'get', port, sites, pages, requests, connections: 32, seed: 5 }),
  ]);
  if (get.errors || get.non2xx) throw new Error(`varnish GETs: ${get.errors} errors, ${get.non2xx} non-2xx`);
  out.varnish_zipf_hit_rate = Math.round((get.hits / Math.max(1, get.hits + get.misses)) * 1000) / 1000;
  out.varnish_zipf_rps = get.rps;
  // The same distribution in steady state, per node: the farm's uncached HTML traffic reaching
  // one of 3 Varnish nodes (a third of the sites each), htmlTtl 300 s.
  for (const rps of [100, 1000])
    out[`varnish_model_hit_rate_${rps}rps_ttl300`] =
      Math.round(ttlHitRate(Math.round(sites / 3), pages, 1, 0.8, rps, 300) * 1000) / 1000;
  const hours = ctx.quick ? 0.5 : 24;
  const bans = Math.round((sites * CHANGES_PER_SITE_DAY * URLS_PER_CHANGE * hours) / 24);
  const filled = await varnishStat(workDir);
  out.varnish_objects = filled.n_object ?? 0;
  ctx.log(`varnish: ${bans} URL bans (${hours} h of purges for ${sites} sites) as fast as accepted ...`);
  const sent = await node<Traffic & { seconds: number }>(ctx, [
    tool,
    JSON.stringify({
      mode: 'ban',
      port,
      sites,
      pages,
      requests: bans,
      connections: 16,
      purgeSecret,
      seed: 9,
    }),
  ]);
  if (sent.errors || sent.non2xx)
    throw new Error(`varnish BANs: ${sent.errors} errors, ${sent.non2xx} refused`);
  const atEnd = await varnishStat(workDir);
  out.varnish_bans_sent = bans;
  out.varnish_ban_accept_rate = sent.rps;
  out.varnish_ban_list_after_send = atEnd.bans ?? 0;
  // The lurker's throughput (ban × object tests per second) while it works through the backlog,
  // then the steady state a day of purges needs: each ban is tested once against every object.
  const window = ctx.quick ? 15_000 : 600_000;
  const t0 = performance.now();
  let now = atEnd;
  await sleep(5500); // ban_lurker_age: the lurker leaves younger bans alone
  const tested0 = (await varnishStat(workDir)).bans_lurker_tests_tested ?? 0;
  const tt = performance.now();
  while ((now.bans ?? 0) > 1 && performance.now() - t0 < window) {
    await sleep(500);
    now = await varnishStat(workDir);
  }
  const rate = ((now.bans_lurker_tests_tested ?? 0) - tested0) / ((performance.now() - tt) / 1000);
  out.varnish_lurker_tests_per_s = Math.round(rate);
  out.varnish_ban_list_left = now.bans ?? 0;
  out.varnish_lurker_cleared_s = (now.bans ?? 0) > 1 ? Number.NaN : r2((performance.now() - t0) / 1000);
  const dayBansPerS = (sites * CHANGES_PER_SITE_DAY * URLS_PER_CHANGE) / 86_400;
  out.varnish_day_bans_per_s_5000 = r2(dayBansPerS);
  // Objects one node holds at which the lurker can no longer keep up with a day's bans.
  out.varnish_lurker_max_objects_at_day_rate = Math.round(rate / dayBansPerS);
  out.varnish_lurker_backlog_s = r2(
    (out.varnish_ban_list_after_send * out.varnish_objects) / Math.max(1, rate),
  );
}

const bench: Benchmark = {
  name: 'scale',
  description:
    'costs from 50 to 5,000 sites (50,000 where designed): edge host map, router, purger, Varnish bans, generator, MariaDB',
  async run(ctx) {
    const f: Record<string, number> = {};
    const phase = async (name: string, body: (out: Record<string, number>) => Promise<void>) => {
      const out: Record<string, number> = {};
      await ctx.phase(name, async () => {
        try {
          await body(out);
        } finally {
          Object.assign(f, out);
          ctx.record(out);
        }
      });
    };
    await phase('edge', (out) => edgePhase(ctx, out));
    await phase('generator', (out) => generatorPhase(ctx, out));

    const nginx = await startPageOrigin(ctx);
    const purgeSecret = randomBytes(16).toString('hex');
    const varnishDir = join(ctx.dir, 'varnish-1');
    const varnish = await startVarnish({
      name: 'varnish-1',
      dir: varnishDir,
      backend: { host: '127.0.0.1', port: nginx.port },
      purgeSecret,
      storage: 'malloc,1g',
      // The lurker skips bans younger than ban_lurker_age (60 s by default): 5 s here, so the
      // figure is the lurker's own work; in production add the 55 s.
      params: { ban_lurker_age: 5 },
    });
    try {
      await phase('origin-router', (out) => routerPhase(ctx, out, varnish.port));
      await phase('varnish', (out) =>
        varnishPhase(ctx, out, varnish.port, join(varnishDir, 'work'), purgeSecret),
      );
    } finally {
      await varnish.stop();
      await nginx.stop();
    }
    await phase('cache-purger', (out) => purgerPhase(ctx, out));
    const dbSites = ctx.quick ? 20 : 5000;
    await phase('mariadb', async (out) => {
      const m = await measureSchemas({ sites: dbSites, dir: join(ctx.dir, 'mariadb'), log: ctx.log });
      for (const [k, v] of Object.entries(m)) if (k !== 'sites') out[`mariadb_${k}_${dbSites}`] = v;
    });

    const ratios: Record<string, number> = {};
    const put = (k: string, a?: number, b?: number) => {
      if (a !== undefined && b !== undefined) ratios[k] = ratio(a, b);
    };
    put('edge_warm_sharded_5000_vs_50', f.edge_warm_ns_sharded_5000, f.edge_warm_ns_sharded_50);
    if (f.edge_warm_ns_sharded_5000 !== undefined && f.edge_warm_ns_sharded_50 !== undefined)
      f.edge_warm_added_ns_sharded_5000 = f.edge_warm_ns_sharded_5000 - f.edge_warm_ns_sharded_50;
    put('edge_warm_document_5000_vs_50', f.edge_warm_ns_document_5000, f.edge_warm_ns_document_50);
    put('edge_cold_document_5000_vs_sharded', f.edge_cold_ms_document_5000, f.edge_cold_ms_sharded_5000);
    put('router_rps_5000_vs_50', f.router_rps_5000, f.router_rps_50);
    put('router_rss_5000_vs_50', f.router_rss_mb_5000, f.router_rss_mb_50);
    put('purger_intake_5000_vs_50', f.purger_intake_rps_5000, f.purger_intake_rps_50);
    put('purger_rss_5000_vs_50', f.purger_rss_mb_5000, f.purger_rss_mb_50);
    return {
      figures: f,
      ratios,
      goals: {
        // Warm routing flat from 50 to 5,000 sites: lookups are O(1) in both layouts; what grows
        // (1.2-1.6× here, both layouts alike) is the hash tables' working set leaving the CPU
        // caches. Flat means: under half a microsecond added per request, 1/20,000 of the
        // Workers' 10 ms CPU limit.
        edge_warm_added_ns_sharded_5000: { max: 500 },
        // What the host map adds to a cold isolate's first request.
        edge_cold_ms_sharded_5000: { max: 5 },
        edge_cold_ms_sharded_50000: { max: 5 },
        edge_kv_read_kb_sharded_50000: { max: 25 * 1024 },
        router_failed_requests_50: { max: 0 },
        router_failed_requests_500: { max: 0 },
        router_failed_requests_5000: { max: 0 },
        router_rps_5000_vs_50: { min: 0.85 },
        purger_intake_5000_vs_50: { min: 0.85 },
        // The lurker keeps up with a day's URL bans on a full node: VARNISH_MEMORY (2 GiB,
        // infra/stacks/farm.env) of 16 KB pages is about 130,000 objects.
        varnish_lurker_max_objects_at_day_rate: { min: 130_000 },
      },
      notes: [
        'Registries: scale/registry.ts (0–3 aliases per site, 2.5 hosts per site on average; a fifth WooCommerce, half serving aliases, some XML-RPC/REST/extra cookies).',
        "edge_*: Node's V8 (the engine workerd embeds), one fresh process per cold run (median), warm = best of 5 passes over Zipf-popular hosts; sharded = the layout in edge-worker/src/host-map.ts (index + one shard per cold read).",
        'edge at 50,000: the schema refuses more than 10,000 sites in one document (REGISTRY_LIMITS), so scale/registry.ts validates 50,000 in chunks of 10,000.',
        "origin-router: the front role over one Varnish (16 KB page hit), one host, 50 connections, best of 3 rounds per size, order rotated; the registry file rewritten (atomic rename) every 5 s from 0.5 s on; router_reloads_ok_* counts the router's own reloads (debounced).",
        "cache-purger: every site's secret as a file in WEBHOOK_SECRETS_DIR (read once at start); intake = signed webhooks accepted (202) per second, 50 connections, one site.",
        `varnish: one node, malloc 1 GB, 16 KB pages; Zipf over 5,000 sites (s = 1) × 1,000 pages (s = 0.8); hit rate of the second pass (no expiry within the run). Bans: ${CHANGES_PER_SITE_DAY} post changes per site per day × ${URLS_PER_CHANGE} URL bans each (x-host + x-url, lurker-friendly), ${ctx.quick ? 'half an hour' : 'one day'} of them sent as fast as Varnish accepts, then the lurker's tests/s while it works through them; varnish_lurker_max_objects_at_day_rate = tests/s ÷ the day's bans/s (each ban is tested against every object once); ban_lurker_age 5 s (production: 60 s).`,
        `mariadb: one Galera node (wsrep on, one-node cluster), ${dbSites} WordPress databases of 12 tables; server defaults but innodb_flush_log_at_trx_commit=2.`,
      ],
    };
  },
};

export default bench;
