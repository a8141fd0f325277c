/**
 * End-to-end checks on the local one-node Swarm (`npm run swarm -- test`, after `up`). Every
 * request goes from this host to a host-mode published port on 127.0.0.1; every load is bounded
 * in count and time. Prints one row per check and ends with `N passed, M failed`.
 */
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { loadRegistry } from '@wpfarm/common/registry/load';
import type { Site } from '@wpfarm/common/registry/schema';
import { siteStack } from '../src/render.ts';
import { deployStack, type Profile, readSecret, taskContainer, waitConverged } from './deploy.ts';
import { docker, sleep, waitFor } from './docker.ts';
import { localPorts } from './profile.ts';

const ROOT = join(import.meta.dirname, '../..');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const agent = new Agent({ keepAlive: true, maxSockets: 32 });

/** One HTTP request to 127.0.0.1:port; rejects on a socket error or after timeoutMs. */
function http(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  opts: { method?: string; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((done, fail) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        headers,
        agent,
        timeout: opts.timeoutMs ?? 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < 2_000_000) body += c;
        });
        res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', fail);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout after ${opts.timeoutMs ?? 10_000} ms`)));
    req.on('error', fail);
    req.end();
  });
}

interface Row {
  check: string;
  ok: boolean;
  detail: string;
  seconds: number;
}

/** The checks share the farm's addresses and the edge secret. */
interface Ctx {
  p: Profile;
  ports: Record<string, number>;
  sites: Site[];
  edgeKey: string;
}

/** A request as the edge sends it, through the Traefik stand-in. */
const edge = (c: Ctx, site: Site, path: string, timeoutMs?: number) =>
  http(
    c.ports['ingress/traefik-standin/80']!,
    path,
    { host: site.host, 'x-edge-auth': c.edgeKey },
    { timeoutMs },
  );

/** A request straight to one Varnish node, as the front router sends it. */
const varnish = (c: Ctx, n: number, site: Site, path: string) =>
  http(c.ports[`cache/varnish-${n}/6081`]!, path, { host: site.host, 'x-forwarded-proto': 'https' });

/** The blog name WordPress prints in <title>: the site's id (sites.ts installs it so). */
const ownedBy = (body: string, c: Ctx): string | undefined =>
  c.sites.find((s) => new RegExp(`<title>[^<]*\\b${s.id}\\b`).test(body))?.id;

/** Runs PHP inside one of the site's php containers (as www-data), with stdin. */
async function wpPhp(site: Site, code: string): Promise<string> {
  const php = await taskContainer(`${siteStack(site)}_php`);
  await docker(['exec', '-i', '-u', '33', php, 'sh', '-c', 'cat > /tmp/farm-e2e.php'], {
    input: `<?php\n$_SERVER['HTTP_HOST'] = '${site.host}';\n$_SERVER['HTTPS'] = 'on';\nrequire '/var/www/html/wp-load.php';\n${code}\n`,
  });
  return (
    await docker(['exec', '-u', '33', php, 'php', '/tmp/farm-e2e.php'], { timeoutMs: 60_000 })
  ).stdout.trim();
}

/** A bounded load at a fixed rate until stop() (or maxMs): counts answers, failures by phase. */
function startLoad(c: Ctx, ratePerSec: number, maxMs: number) {
  const stats = { sent: 0, ok: 0, failed: 0, phase: 'start', failures: new Map<string, number>() };
  let i = 0;
  const inflight = new Set<Promise<void>>();
  const fail = (what: string, why: string) => {
    stats.failed++;
    const key = `${why} (${what}, during ${stats.phase})`;
    stats.failures.set(key, (stats.failures.get(key) ?? 0) + 1);
  };
  const tick = setInterval(() => {
    const n = i++;
    const site = c.sites[n % c.sites.length]!;
    // One in sixteen misses every cache (a search runs PHP and the database); the rest are pages.
    const path = n % 16 === 15 ? `/?s=load${n}` : '/';
    const what = `${site.id} ${path === '/' ? 'page' : 'search'}`;
    stats.sent++;
    const pr = edge(c, site, path, 15_000)
      .then((r) => {
        if (r.status >= 200 && r.status < 400) stats.ok++;
        else
          fail(
            what,
            `${r.status} ${String(r.headers['x-router-error'] ?? r.headers['x-cache'] ?? '')}`.trim(),
          );
      })
      .catch((err: Error) => fail(what, err.message.slice(0, 60)))
      .finally(() => inflight.delete(pr));
    inflight.add(pr);
  }, 1000 / ratePerSec);
  const hardStop = setTimeout(() => clearInterval(tick), maxMs);
  return {
    stats,
    stop: async () => {
      clearInterval(tick);
      clearTimeout(hardStop);
      await Promise.all(inflight);
      return stats;
    },
  };
}

const describeFailures = (m: Map<string, number>) => [...m].map(([k, v]) => `${v}× ${k}`).join(', ');

/** Swarm's rolling-update state of a service (`completed`, `updating`, `rollback_*`, `paused`). */
async function updateState(service: string): Promise<string> {
  const r = await docker([
    'service',
    'inspect',
    service,
    '--format',
    '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
  ]);
  return r.stdout.trim();
}

// ---------------------------------------------------------------------------------------------
// The checks, in the order they run. Each returns its detail or throws with the reason.

async function missThenHit(c: Ctx): Promise<string> {
  const site = c.sites[0]!;
  const path = `/?e2e=${Date.now()}`;
  const first = await edge(c, site, path);
  const second = await edge(c, site, path);
  if (first.status !== 200 || second.status !== 200)
    throw new Error(`status ${first.status}, ${second.status}`);
  if (ownedBy(first.body, c) !== site.id) throw new Error(`not ${site.id}'s WordPress page`);
  if (first.headers['x-cache'] !== 'MISS' || second.headers['x-cache'] !== 'HIT')
    throw new Error(`x-cache ${first.headers['x-cache']} then ${second.headers['x-cache']}`);
  return `${site.host}: MISS then HIT, ${Math.round(first.body.length / 1024)} KB of real WordPress HTML`;
}

async function ownPages(c: Ctx): Promise<string> {
  const wrong: string[] = [];
  let n = 0;
  // wp-login.php is never cached: every one of these runs the site's php-fpm.
  for (let i = 0; i < 300; i++) {
    const site = c.sites[i % c.sites.length]!;
    const r = await edge(c, site, '/wp-login.php');
    n++;
    const owner = ownedBy(r.body, c);
    if (r.status !== 200 || owner !== site.id) wrong.push(`${site.id}→${owner ?? r.status}`);
  }
  if (wrong.length)
    throw new Error(`${wrong.length} of ${n} answered by another site: ${wrong.slice(0, 5).join(', ')}`);
  return `${n} uncached requests across ${c.sites.length} sites, each answered by its own WordPress`;
}

async function publishBans(c: Ctx): Promise<string> {
  const site = c.sites[0]!;
  const postUrl = await wpPhp(
    site,
    "$p = get_posts(['numberposts' => 1])[0]; echo wp_make_link_relative(get_permalink($p));",
  );
  for (const n of [1, 2, 3]) {
    await varnish(c, n, site, postUrl);
    const warm = await varnish(c, n, site, postUrl);
    if (warm.headers['x-cache'] !== 'HIT')
      throw new Error(`varnish-${n} did not cache ${postUrl} (${warm.status})`);
  }
  const t = Date.now();
  const out = await wpPhp(
    site,
    "$p = get_posts(['numberposts' => 1])[0]; wp_update_post(['ID' => $p->ID, 'post_content' => $p->post_content . ' edited ' . time()]); echo 'ok';",
  );
  if (!out.endsWith('ok')) throw new Error(`publish failed: ${out}`);
  const seconds: string[] = [];
  for (const n of [1, 2, 3]) {
    await waitFor(
      `varnish-${n} to drop ${postUrl}`,
      async () => ((await varnish(c, n, site, postUrl)).headers['x-cache'] === 'MISS' ? true : undefined),
      30_000,
      250,
    );
    seconds.push(((Date.now() - t) / 1000).toFixed(1));
  }
  return `post edited in WordPress → its page a MISS on varnish-1/2/3 after ${seconds.join('/')} s`;
}

async function prometheusScrapes(c: Ctx): Promise<string> {
  const want = [
    'origin-router-front',
    'origin-router-back',
    'cache-purger',
    'telemetry-bridge',
    'proxysql-health',
    'alertmanager',
    'prometheus',
  ];
  const port = c.ports['monitoring/prometheus/9090']!;
  let summary = '';
  await waitFor(
    'every job’s targets up',
    async () => {
      const r = await http(port, '/api/v1/targets?state=active');
      const targets = (
        JSON.parse(r.body) as { data: { activeTargets: { labels: { job: string }; health: string }[] } }
      ).data.activeTargets;
      const byJob = new Map<string, { up: number; all: number }>();
      for (const t of targets) {
        const j = byJob.get(t.labels.job) ?? { up: 0, all: 0 };
        j.all++;
        if (t.health === 'up') j.up++;
        byJob.set(t.labels.job, j);
      }
      const missing = want.filter((j) => !byJob.get(j) || byJob.get(j)!.up !== byJob.get(j)!.all);
      summary = want.map((j) => `${j} ${byJob.get(j)?.up ?? 0}/${byJob.get(j)?.all ?? 0}`).join(', ');
      return missing.length === 0 ? true : undefined;
    },
    90_000,
    3_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}: ${summary}`);
  });
  return summary;
}

/**
 * The stateless services and one Varnish, rolled in two waves (each wave's updates at once, as a
 * release would roll several services): the first keeps the request path's other hops steady
 * while the front routers roll, the second rolls the back routers, a cache node and nginx.
 */
const WAVES = (site: Site) => [
  ['services_router-front', 'services_telemetry-bridge', 'cache_cache-purger', `${siteStack(site)}_php`],
  ['services_router-back', 'cache_varnish-2', `${siteStack(site)}_nginx`],
];

async function rollingUpdates(c: Ctx, rows: Row[]): Promise<string> {
  const waves = WAVES(c.sites[0]!);
  const load = startLoad(c, 40, 600_000);
  await sleep(3_000);
  const t = Date.now();
  for (const [w, wave] of waves.entries()) {
    load.stats.phase = `wave ${w + 1}`;
    await Promise.all(
      wave.map(async (svc) => {
        const s = Date.now();
        await docker(['service', 'update', '--force', '--detach', svc]);
        const state = await waitFor(
          `${svc} to finish its rolling update`,
          async () => {
            const st = await updateState(svc);
            return ['completed', 'paused', 'rollback_completed', 'rollback_paused'].includes(st)
              ? st
              : undefined;
          },
          300_000,
          2_000,
        );
        rows.push({
          check: `  rolling update ${svc} (wave ${w + 1})`,
          ok: state === 'completed',
          detail: state,
          seconds: (Date.now() - s) / 1000,
        });
      }),
    );
  }
  load.stats.phase = 'after';
  // Keep the load on until the bound is reached: at least 2,000 requests in all.
  while (load.stats.sent < 2_000) await sleep(1_000);
  await sleep(3_000);
  const stats = await load.stop();
  const n = waves.flat().length;
  const detail = `${stats.sent} requests at 40/s during ${n} rolling updates in ${waves.length} waves (${((Date.now() - t) / 1000).toFixed(0)} s): ${stats.failed} failed`;
  if (stats.failed > 0) throw new Error(`${detail}: ${describeFailures(stats.failures)}`);
  return detail;
}

async function health(c: Ctx, n: number): Promise<number> {
  try {
    return (await http(c.ports[`db/proxysql-health-${n}/9200`]!, '/health', {}, { timeoutMs: 3_000 })).status;
  } catch {
    return 0;
  }
}

async function galeraKill(c: Ctx): Promise<string> {
  const site = c.sites[1] ?? c.sites[0]!;
  for (const n of [1, 2, 3])
    if ((await health(c, n)) !== 200) throw new Error(`proxysql-health-${n} not 200 before the fault`);
  const ctr = await taskContainer('db_galera-2');
  const t = Date.now();
  await docker(['kill', '-s', 'KILL', ctr]);
  await waitFor(
    'proxysql-health-2 to answer 503',
    async () => ((await health(c, 2)) === 503 ? true : undefined),
    60_000,
    500,
  );
  const flipped = ((Date.now() - t) / 1000).toFixed(1);
  let served = 0;
  for (let i = 0; i < 20; i++) {
    const r = await edge(c, site, `/?s=galera${Date.now()}${i}`);
    if (r.status !== 200 || ownedBy(r.body, c) !== site.id)
      throw new Error(`WordPress failed during the fault: ${r.status}`);
    served++;
  }
  const others = [await health(c, 1), await health(c, 3)];
  if (others.some((s) => s !== 200)) throw new Error(`the surviving nodes answer ${others.join(', ')}`);
  await waitFor(
    'galera-2 to rejoin (health 200)',
    async () => ((await health(c, 2)) === 200 ? true : undefined),
    300_000,
    2_000,
  );
  return `verdict 503 after ${flipped} s, nodes 1 and 3 stayed 200, ${served}/20 uncached pages served, back to 200 after ${((Date.now() - t) / 1000).toFixed(0)} s`;
}

async function dbRestart(c: Ctx): Promise<string> {
  const site = c.sites[0]!;
  const before = await wpPhp(site, 'echo (int) wp_count_posts()->publish;');
  const t = Date.now();
  await docker(['stack', 'rm', 'db']);
  await waitFor(
    'the db stack’s containers to stop',
    async () =>
      (await docker(['ps', '-q', '--filter', 'label=com.docker.stack.namespace=db'])).stdout.trim() === ''
        ? true
        : undefined,
    300_000,
  );
  // The stack's own network is released a moment after its last task.
  await sleep(5_000);
  await waitFor(
    'the db stack to deploy again',
    async () => {
      await deployStack(c.p, 'db');
      return true;
    },
    60_000,
    5_000,
  );
  await waitConverged(c.p, ['db'], 600_000);
  const up = ((Date.now() - t) / 1000).toFixed(0);
  const r = await waitFor(
    'WordPress to serve from the database again',
    async () => {
      const res = await edge(c, site, `/?s=restart${Date.now()}`);
      return res.status === 200 ? res : undefined;
    },
    120_000,
  );
  const after = await wpPhp(site, 'echo (int) wp_count_posts()->publish;');
  if (after !== before) throw new Error(`published posts ${before} before, ${after} after`);
  return `stack removed and deployed again: Synced after ${up} s with no manual step, ${after} posts intact, ${r.status} from WordPress`;
}

async function varnishAlert(c: Ctx): Promise<string> {
  const receiver = c.ports['monitoring/webhook-standin/9094']!;
  const seen = async () =>
    (JSON.parse((await http(receiver, '/requests')).body) as { path: string; body: string }[]).filter(
      (r) => r.path === '/slack' && r.body.includes('VarnishNodeUnavailable') && r.body.includes('FIRING'),
    ).length;
  const already = await seen();
  const ctr = await taskContainer('cache_varnish-3');
  const t = Date.now();
  // A cache node lost: the task killed and not replaced until the check ends.
  await docker(['service', 'scale', '--detach', 'cache_varnish-3=0']);
  await docker(['kill', '-s', 'KILL', ctr], { allowFailure: true });
  try {
    await waitFor(
      'VarnishNodeUnavailable to reach the webhook receiver',
      async () => ((await seen()) > already ? true : undefined),
      420_000,
      5_000,
    );
  } finally {
    await docker(['service', 'scale', '--detach', 'cache_varnish-3=1']);
  }
  return `varnish-3 killed → VarnishNodeUnavailable (for: 2m) firing at Alertmanager's Slack receiver after ${((Date.now() - t) / 1000).toFixed(0)} s`;
}

/** Runs every check, or those whose name contains one of `only`; returns the number that failed. */
export async function runEndToEnd(p: Profile, only: string[] = []): Promise<number> {
  const registry = await loadRegistry(join(ROOT, 'infra/registry/sites.yaml'));
  const c: Ctx = {
    p,
    ports: localPorts(p.basePort),
    sites: registry.sites,
    edgeKey: readSecret(p.runDir, 'edge_auth_v1').trim(),
  };
  const rows: Row[] = [];
  const check = async (name: string, fn: () => Promise<string>) => {
    if (only.length && !only.some((o) => name.toLowerCase().includes(o.toLowerCase()))) return;
    const t = Date.now();
    p.log(`› ${name} …`);
    let row: Row;
    try {
      row = { check: name, ok: true, detail: await fn(), seconds: (Date.now() - t) / 1000 };
    } catch (err) {
      const e = err as Error;
      row = {
        check: name,
        ok: false,
        detail: `${e.message}${e.cause ? ` (${(e.cause as Error).message})` : ''}`,
        seconds: (Date.now() - t) / 1000,
      };
    }
    rows.push(row);
    p.log(`  ${row.ok ? 'ok' : 'FAILED'}: ${row.detail}`);
  };
  await check('WordPress page MISS then HIT (edge → front → Varnish → back → nginx → php-fpm → Galera)', () =>
    missThenHit(c),
  );
  await check('every site served its own pages', () => ownPages(c));
  await check('WordPress publish → ban on all three Varnish', () => publishBans(c));
  await check('Prometheus scrapes every service', () => prometheusScrapes(c));
  await check('rolling updates under load: 0 failed requests', () => rollingUpdates(c, rows));
  await Promise.all([
    check('Varnish task killed → alert reaches Alertmanager’s receiver', () => varnishAlert(c)),
    check('Galera task killed → verdicts flip, WordPress keeps serving', () => galeraKill(c)),
  ]);
  await check('db stack restarted → cluster back without manual steps', () => dbRestart(c));
  agent.destroy();

  const w = Math.max(...rows.map((r) => r.check.length));
  console.log(`\n${'check'.padEnd(w)}  result  seconds  detail`);
  for (const r of rows)
    console.log(
      `${r.check.padEnd(w)}  ${r.ok ? 'pass  ' : 'FAIL  '}  ${r.seconds.toFixed(0).padStart(7)}  ${r.detail}`,
    );
  const failed = rows.filter((r) => !r.ok).length;
  console.log(`${rows.length - failed} passed, ${failed} failed`);
  return failed;
}
