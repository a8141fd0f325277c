import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, startProcess } from '@wpfarm/common/process/managed';
import { freeFarmBase } from '@wpfarm/common/testing/farm-ports';
import { rawRequest } from '@wpfarm/common/testing/http';
import { measure, ratio } from '../load.ts';
import type { Benchmark } from '../types.ts';

/**
 * Real WordPress (issue 15 item 7): the local farm with Debian's WordPress and its seeded content,
 * in one run, against the same WordPress (same php-fpm pools, database and content) behind nginx
 * `fastcgi_cache` (the page cache a WordPress-at-scale roadmap picks first) and uncached.
 * (a) freshness: publish → the new title on the home page at the edge, over N publishes;
 * (b) throughput: anonymous (a seeded post, marketing parameters on the URL) and logged-in,
 *     req/s and p99 per target; (c) fastcgi_cache's staleness after a publish (no purge).
 */
const run = promisify(execFile);

interface Creds {
  id: string;
  host: string;
  origin: string;
  admin: string;
  adminPassword: string;
  appPassword: string;
}

const pctl = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? 0;
};

const bench: Benchmark = {
  name: 'wordpress',
  description:
    'real WordPress: publish → edge freshness p50/p99; farm vs nginx fastcgi_cache vs uncached req/s (anonymous, logged-in)',
  async run(ctx) {
    const cli = join(ctx.root, 'infra/local-farm/cli.ts');
    const runDir = join(ctx.dir, 'farm');
    const basePort = await freeFarmBase();
    const farmArgs = [`--run-dir=${runDir}`];
    ctx.log('starting the local farm with real WordPress (1 Galera node, site alpha) ...');
    // FARM_TELEMETRY=0: the local farm traces every request (sample rate 1, spans to a file),
    // which production does not; the telemetry benchmark measures that cost on its own.
    await run(
      process.execPath,
      [cli, 'start', '--detach', '--galera-nodes=1', '--sites=alpha', `--base-port=${basePort}`, ...farmArgs],
      {
        cwd: ctx.root,
        env: { ...process.env, FARM_TELEMETRY: '0' },
        timeout: 300_000,
        maxBuffer: 1 << 24,
      },
    );
    const notes: string[] = [];
    let fastcgi: { stop(): Promise<void> } | undefined;
    try {
      const creds = (
        JSON.parse(readFileSync(join(runDir, 'wordpress/credentials.json'), 'utf8')) as Creds[]
      )[0] as Creds;
      const edge = `http://127.0.0.1:${basePort + 50}`;
      const host = creds.host;
      const auth = `Basic ${Buffer.from(`${creds.admin}:${creds.appPassword}`).toString('base64')}`;
      const rest = async (method: string, route: string, body?: unknown) => {
        const r = await rawRequest(`${creds.origin}/wp-json${route}`, {
          method,
          headers: { host, authorization: auth, 'content-type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
          timeoutMs: 30_000,
        });
        if (r.status >= 300) throw new Error(`${method} ${route}: ${r.status} ${r.body.slice(0, 200)}`);
        return JSON.parse(r.body);
      };

      // nginx fastcgi_cache in front of the same php-fpm pool and WordPress tree; TTL = the
      // site's htmlTtl (300 s), logged-in cookies and wp-admin bypass (the usual recipe).
      const fdir = join(ctx.dir, 'fastcgi-cache');
      mkdirSync(join(fdir, 'tmp'), { recursive: true });
      mkdirSync(join(fdir, 'cache'), { recursive: true });
      const fport = await freePort();
      const core = join(runDir, 'wordpress/core');
      const sock = join(runDir, 'wordpress/php-fpm/alpha.sock');
      writeFileSync(
        join(fdir, 'nginx.conf'),
        `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 2;
daemon off;
pid ${fdir}/nginx.pid;
error_log ${fdir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${fdir}/tmp/body;
  proxy_temp_path ${fdir}/tmp/proxy;
  fastcgi_temp_path ${fdir}/tmp/fastcgi;
  uwsgi_temp_path ${fdir}/tmp/uwsgi;
  scgi_temp_path ${fdir}/tmp/scgi;
  fastcgi_cache_path ${fdir}/cache levels=1:2 keys_zone=wp:32m inactive=60m;
  server {
    listen 127.0.0.1:${fport};
    server_name ${host};
    root ${core};
    index index.php;
    set $skip 0;
    if ($request_method = POST) { set $skip 1; }
    if ($query_string ~ "preview") { set $skip 1; }
    if ($request_uri ~* "/wp-admin/|/wp-json/|wp-login.php") { set $skip 1; }
    if ($http_cookie ~* "wordpress_logged_in|comment_author|wp-postpass") { set $skip 1; }
    location / { try_files $uri $uri/ /index.php?$args; }
    location ~ \\.php$ {
      try_files $uri =404;
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
      fastcgi_pass unix:${sock};
      fastcgi_cache wp;
      fastcgi_cache_key "$scheme$request_method$host$request_uri";
      fastcgi_cache_valid 200 301 302 300s;
      fastcgi_cache_bypass $skip;
      fastcgi_no_cache $skip;
      fastcgi_ignore_headers Cache-Control Expires Set-Cookie;
      add_header x-fastcgi-cache $upstream_cache_status;
    }
  }
}
`,
      );
      const proc = await startProcess({
        name: 'fastcgi-cache-nginx',
        command: 'nginx',
        args: ['-p', fdir, '-c', join(fdir, 'nginx.conf')],
        logFile: join(fdir, 'nginx.log'),
        ready: { tcp: fport },
      });
      fastcgi = { stop: () => proc.stop() };

      // (a) Freshness at the edge: publish, then poll the home page until the title is there.
      const publishes = ctx.quick ? 5 : 24;
      const lat: number[] = [];
      await ctx.phase('freshness', async () => {
        for (let i = 0; i < 3; i++) await rawRequest(`${edge}/`, { headers: { host } });
        for (let i = 0; i < publishes; i++) {
          const title = `Bench publish ${Date.now().toString(36)}-${i}`;
          await rest('POST', '/wp/v2/posts', { title, status: 'publish', content: 'bench' });
          const t0 = performance.now();
          for (;;) {
            const r = await rawRequest(`${edge}/`, { headers: { host } });
            if (r.body.includes(title)) break;
            if (performance.now() - t0 > 30_000) throw new Error(`"${title}" not at the edge after 30 s`);
            await new Promise((res) => setTimeout(res, 20));
          }
          lat.push(performance.now() - t0);
          await new Promise((res) => setTimeout(res, 300));
        }
        ctx.record({
          freshness_p50_ms: Math.round(pctl(lat, 50)),
          freshness_p99_ms: Math.round(pctl(lat, 99)),
        });
      });

      // (c) fastcgi_cache after a publish: how long the home page stays stale (bounded window).
      const window = ctx.quick ? 5 : 15;
      let staleFor = 0;
      await ctx.phase('fastcgi-staleness', async () => {
        for (let i = 0; i < 2; i++) await rawRequest(`http://127.0.0.1:${fport}/`, { headers: { host } });
        const title = `Bench stale ${Date.now().toString(36)}`;
        await rest('POST', '/wp/v2/posts', { title, status: 'publish', content: 'bench' });
        const t0 = performance.now();
        for (;;) {
          const r = await rawRequest(`http://127.0.0.1:${fport}/`, { headers: { host } });
          staleFor = (performance.now() - t0) / 1000;
          if (r.body.includes(title) || staleFor > window) break;
          await new Promise((res) => setTimeout(res, 250));
        }
        ctx.record({ fastcgi_cache_stale_after_publish_s: Math.round(staleFor * 10) / 10 });
      });

      // A logged-in session (cookies from wp-login.php), the same for every target.
      const login = await rawRequest(`${creds.origin}/wp-login.php`, {
        method: 'POST',
        headers: {
          host,
          'content-type': 'application/x-www-form-urlencoded',
          cookie: 'wordpress_test_cookie=WP%20Cookie%20check',
        },
        body: new URLSearchParams({ log: creds.admin, pwd: creds.adminPassword, testcookie: '1' }).toString(),
      });
      const cookie = ([] as string[])
        .concat(login.headers['set-cookie'] ?? [])
        .map((c) => c.split(';')[0])
        .join('; ');
      if (!cookie.includes('wordpress_logged_in')) throw new Error(`login failed: ${login.status}`);

      // (b) Throughput: a seeded post with marketing parameters (anonymous), and logged-in.
      const post = (await rest('GET', '/wp/v2/posts?per_page=1&offset=10&categories_exclude=1')) as {
        link: string;
      }[];
      const path = new URL(post[0]?.link ?? `http://${host}/`).pathname;
      const anonPath = `${path}?utm_source=newsletter&utm_medium=email`;
      // farm_origin: the same farm behind its edge (router front → Varnish → ...), the part that
      // runs on the farm's machines when Cloudflare is the edge; it needs the edge's key.
      const edgeKey =
        /^EDGE_AUTH_KEYS=([^,\n]+)/m.exec(readFileSync(join(runDir, 'secrets.env'), 'utf8'))?.[1] ?? '';
      const targets: Record<string, { base: string; headers: Record<string, string> }> = {
        farm: { base: edge, headers: { host } },
        farm_origin: {
          base: `http://127.0.0.1:${basePort + 40}`,
          headers: { host, 'x-edge-auth': edgeKey, 'x-edge-host': host },
        },
        fastcgi_cache: { base: `http://127.0.0.1:${fport}`, headers: { host } },
        uncached: { base: creds.origin, headers: { host } },
      };
      const figures: Record<string, number> = {};
      for (let i = 0; i < 3; i++) await rawRequest(`${edge}${anonPath}`, { headers: { host } });
      const probe = await rawRequest(`${edge}${anonPath}`, { headers: { host } });
      notes.push(
        `farm anonymous before the load: edge ${probe.headers['x-edge-cache']} (${probe.headers['x-edge-cache-reason']})`,
      );
      for (const [name, { base, headers }] of Object.entries(targets)) {
        await ctx.phase(`${name}-anonymous`, async () => {
          ctx.log(`${name}: anonymous ${anonPath} ...`);
          const f = await measure({
            url: `${base}${anonPath}`,
            headers,
            connections: name === 'uncached' ? 8 : 32,
            seconds: ctx.seconds,
            warmupSeconds: 1,
          });
          if (f.non2xx) notes.push(`${name} anonymous: non-2xx ${JSON.stringify(f.statusCodes)}`);
          figures[`${name}_anonymous_rps`] = f.rps;
          figures[`${name}_anonymous_p99_ms`] = f.p99;
          ctx.record(figures);
        });
        await ctx.phase(`${name}-logged-in`, async () => {
          ctx.log(`${name}: logged-in ${path} ...`);
          const f = await measure({
            url: `${base}${path}`,
            headers: { ...headers, cookie },
            connections: 8,
            seconds: Math.max(2, Math.round(ctx.seconds / 2)),
          });
          if (f.non2xx) notes.push(`${name} logged-in: non-2xx ${JSON.stringify(f.statusCodes)}`);
          figures[`${name}_logged_in_rps`] = f.rps;
          figures[`${name}_logged_in_p99_ms`] = f.p99;
          ctx.record(figures);
        });
        // The 90 % anonymous / 10 % logged-in mix, from the two runs: the capacity where each
        // request type takes its measured time (1 / (0.9 / anon + 0.1 / logged-in)).
        const a = figures[`${name}_anonymous_rps`];
        const l = figures[`${name}_logged_in_rps`];
        if (a && l) figures[`${name}_mixed_rps`] = Math.round(1 / (0.9 / a + 0.1 / l));
      }

      const ratios = {
        farm_vs_uncached_anonymous: ratio(
          figures.farm_anonymous_rps ?? 0,
          figures.uncached_anonymous_rps ?? 0,
        ),
        farm_vs_fastcgi_cache_anonymous: ratio(
          figures.farm_anonymous_rps ?? 0,
          figures.fastcgi_cache_anonymous_rps ?? 0,
        ),
        farm_vs_fastcgi_cache_mixed: ratio(figures.farm_mixed_rps ?? 0, figures.fastcgi_cache_mixed_rps ?? 0),
        farm_origin_vs_fastcgi_cache_anonymous: ratio(
          figures.farm_origin_anonymous_rps ?? 0,
          figures.fastcgi_cache_anonymous_rps ?? 0,
        ),
        farm_origin_vs_uncached_anonymous: ratio(
          figures.farm_origin_anonymous_rps ?? 0,
          figures.uncached_anonymous_rps ?? 0,
        ),
      };
      notes.push(
        `${publishes} publishes through the REST API; freshness = REST call returned → new title on / at the edge (polled every 20 ms)`,
        `fastcgi_cache (TTL 300 s like the site's htmlTtl, no purge): home still stale ${staleFor.toFixed(1)} s after a publish (window ${window} s); it stays stale until the TTL runs out`,
        'all targets share the same php-fpm pool, database and content; the farm path is edge (workerd) → router front → Varnish → router back → nginx → php-fpm, on 2 shared cores with the load generator',
        'mixed = 90 % anonymous / 10 % logged-in, computed from the two runs (not one mixed run)',
        "farm = at the local edge (workerd on this machine; in production the edge is Cloudflare's); farm_origin = the same path from the router front on (what the farm's own machines serve)",
        'FARM_TELEMETRY=0: no tracing in the farm for this run (the local farm otherwise traces every request)',
      );
      return {
        figures: {
          ...figures,
          freshness_p50_ms: Math.round(pctl(lat, 50)),
          freshness_p99_ms: Math.round(pctl(lat, 99)),
          fastcgi_cache_stale_after_publish_s: Math.round(staleFor * 10) / 10,
          publishes: lat.length,
        },
        ratios,
        goals: {
          freshness_p99_ms: { max: 600 },
          farm_vs_uncached_anonymous: { min: 20 },
          farm_vs_fastcgi_cache_anonymous: { min: 1 },
        },
        notes,
      };
    } finally {
      await fastcgi?.stop();
      await run(process.execPath, [cli, 'stop', ...farmArgs], { cwd: ctx.root, timeout: 60_000 }).catch(
        () => undefined,
      );
    }
  },
};

export default bench;
