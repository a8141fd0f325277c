import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  hasPhpParam,
  NEVER_CACHE_PATH_PREFIXES,
  normalisePath,
  PURGE_HEADERS,
  REST_API_PATH_PREFIX,
  REST_API_QUERY_KEY,
} from '@wpfarm/common/cache-rules';
import { type DemoOrigin, startDemoOrigin } from '@wpfarm/common/peers/demo-origin';
import {
  renderPurgersAcl,
  startVarnish,
  type VarnishInstance,
  VCL_DIR,
  writeVarnishIncludes,
} from '@wpfarm/common/peers/varnish';
import { parseRegistry } from '@wpfarm/common/registry/load';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CACHE_RULES_VCL, pathPrefixPattern, phpKeyPattern, renderCacheRulesVcl } from './vcl-rules.ts';

const run = promisify(execFile);
/** The acl purgers of the Swarm stack (farm_purge), mounted as a config beside backends.vcl. */
const STACK_PURGERS = join(VCL_DIR, '../stacks/varnish/purgers.vcl');

const REGISTRY = `
version: 1
sites:
  - { id: alpha, host: alpha.farm.test, upstream: "http://127.0.0.1:1", webhookSecretRef: W_A }
  - { id: beta, host: beta.farm.test, upstream: "http://127.0.0.1:1", webhookSecretRef: W_B }
`;

describe('generated cache-rules.vcl', () => {
  it('is up to date with common/src/cache-rules.ts (run: node infra/src/vcl-rules.ts)', () => {
    expect(readFileSync(CACHE_RULES_VCL, 'utf8')).toBe(renderCacheRulesVcl());
  });

  it('compiles with varnishd -C together with default.vcl and the Swarm stack purgers.vcl', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vcl-c-'));
    chmodSync(dir, 0o755); // varnishd -C drops privileges and must read the includes
    try {
      writeVarnishIncludes(dir, { host: '127.0.0.1', port: 9 }, 'compile-secret');
      copyFileSync(STACK_PURGERS, join(dir, 'purgers.vcl'));
      // stdout is the generated C code; stderr names the problem on failure.
      const { stderr } = await run(
        'sh',
        [
          '-c',
          `varnishd -C -n "${dir}/w" -p vcl_path="${dir}:${VCL_DIR}:/usr/share/varnish/vcl" -f "${VCL_DIR}/default.vcl" >/dev/null`,
        ],
        { cwd: dir, maxBuffer: 64 * 1024 * 1024 },
      ).catch((err) => {
        throw new Error(`varnishd -C failed:\n${err.stderr}`);
      });
      expect(stderr).not.toMatch(/VCL compilation failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('one rule for the edge and the VCL (issue 15: REST and previews in every spelling)', () => {
  // The generated patterns are PCRE in Varnish; these use only syntax JavaScript reads the same.
  const vclQuery = (key: string, url: string) => new RegExp(phpKeyPattern(key)).test(url);
  const edgeQuery = (key: string, url: string) =>
    hasPhpParam(new URL(url, 'http://a.test').searchParams, key);
  it.each([
    ['/?rest_route=/wp/v2/posts', true],
    ['/index.php?rest_route=%2Fwp%2Fv2%2Fposts', true],
    ['/?p=1&rest_route=/x', true],
    ['/?rest.route=/x', true],
    ['/?rest+route=/x', true],
    ['/?rest%5Froute=/x', true],
    ['/?%72est_route=/x', true],
    ['/?+rest_route=/x', true],
    ['/?rest_route[]=/x', true],
    ['/?rest_route', true],
    ['/?rest_routes=/x', false],
    ['/?xrest_route=/x', false],
    ['/?q=rest_route', false],
    ['/blog/', false],
  ])('rest_route in %s: %s at the edge and in the VCL', (url, expected) => {
    expect(edgeQuery(REST_API_QUERY_KEY, url)).toBe(expected);
    expect(vclQuery(REST_API_QUERY_KEY, url)).toBe(expected);
  });

  it.each([
    ['/?p=1&preview=true', true],
    ['/?p=1&preview=1', true],
    ['/?preview', true],
    ['/?pre%76iew=1', true],
    ['/?previews=1', false],
  ])('preview in %s: %s at the edge and in the VCL', (url, expected) => {
    expect(edgeQuery('preview', url)).toBe(expected);
    expect(vclQuery('preview', url)).toBe(expected);
  });

  it.each([
    ['/wp-json/wp/v2/posts', REST_API_PATH_PREFIX, true],
    ['/wp-json', REST_API_PATH_PREFIX, true],
    ['/wp-json?x=1', REST_API_PATH_PREFIX, true],
    ['//wp-json/wp/v2/posts', REST_API_PATH_PREFIX, true],
    ['/wp%2Djson/wp/v2/posts', REST_API_PATH_PREFIX, true],
    ['/%2Fwp-json/', REST_API_PATH_PREFIX, true],
    ['/wp-jsonx/', REST_API_PATH_PREFIX, false],
    ['/blog/wp-json/', REST_API_PATH_PREFIX, false],
    ['//wp-admin/', '/wp-admin/', true],
    ['/%77p-admin/', '/wp-admin/', true],
    ['/wp-admin', '/wp-admin/', true],
    ['/wp-administrator/', '/wp-admin/', false],
  ])('%s under %s: %s at the edge and in the VCL', (url, prefix, expected) => {
    const path = normalisePath(url.split('?')[0]!);
    const bare = prefix.slice(0, -1);
    expect(path === bare || path.startsWith(prefix)).toBe(expected);
    expect(new RegExp(pathPrefixPattern(prefix)).test(url)).toBe(expected);
  });

  it('every never-cache path prefix is in the generated VCL', () => {
    const vcl = renderCacheRulesVcl();
    for (const p of [...NEVER_CACHE_PATH_PREFIXES, REST_API_PATH_PREFIX])
      expect(vcl).toContain(pathPrefixPattern(p));
  });

  it('every header default.vcl reads in its purge branch is one the edge strips and the VCL unsets', () => {
    const vcl = readFileSync(join(VCL_DIR, 'default.vcl'), 'utf8');
    const branch = vcl.slice(
      vcl.indexOf('req.method == "BAN"'),
      vcl.indexOf('return (synth(400, "Bad purge request"))'),
    );
    const read = new Set([...branch.matchAll(/req\.http\.([a-z0-9-]+)/gi)].map((m) => m[1]!.toLowerCase()));
    // The farm's own x-farm-* (the expected secret, the purge count) are set by the VCL itself.
    for (const h of read) if (h.startsWith('x-farm-')) read.delete(h);
    expect([...read].sort()).toEqual([...PURGE_HEADERS].sort());
  });
});

describe('default.vcl against a real varnishd and the demo origin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcl-it-'));
  chmodSync(dir, 0o755); // varnishd's users must reach the instance folder
  const secret = 'purge-secret-for-the-vcl-test';
  let origin: DemoOrigin;
  let varnish: VarnishInstance;
  let base: string;

  beforeAll(async () => {
    origin = await startDemoOrigin({ registry: parseRegistry(REGISTRY), pageBytes: 1024 });
    varnish = await startVarnish({
      dir: join(dir, 'v'),
      backend: { host: '127.0.0.1', port: origin.port },
      purgeSecret: secret,
    });
    base = `http://127.0.0.1:${varnish.port}`;
  });
  afterAll(async () => {
    await varnish?.stop();
    await origin?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // undici's request, not fetch: fetch may not set Host.
  const get = async (
    path: string,
    headers: Record<string, string> = {},
    host = 'alpha.farm.test',
    method = 'GET',
  ) => {
    const r = await request(base + path, { method: method as 'GET', headers: { host, ...headers } });
    const h = (name: string) => {
      const v = r.headers[name];
      return typeof v === 'string' ? v : null;
    };
    return {
      status: r.statusCode,
      cache: h('x-cache'),
      state: h('x-cache-state'),
      reason: h('x-cache-reason'),
      age: h('age'),
      h,
      body: await r.body.text(),
    };
  };
  const purge = (method: string, headers: Record<string, string>) => get('/', headers, 'localhost', method);
  const hits = (key: string) => origin.stats().byRequest[key] ?? 0;

  it('caches an anonymous page: MISS then HIT with Age, no internal headers leak', async () => {
    const a = await get('/hello/');
    const b = await get('/hello/');
    expect([a.cache, b.cache]).toEqual(['MISS', 'HIT']);
    expect(b.age).not.toBeNull();
    expect(hits('GET alpha.farm.test /hello/')).toBe(1);
    for (const h of ['x-url', 'x-host', 'xkey', 'x-farm-swr']) expect(b.h(h)).toBeNull();
  });

  it('ignores analytics cookies but bypasses on a login cookie', async () => {
    await get('/cookies/');
    const ignored = await get('/cookies/', { cookie: '_ga=GA1.2; wordpress_test_cookie=WP+Cookie+check' });
    expect(ignored.cache).toBe('HIT');
    const loggedIn = await get('/cookies/', { cookie: '_ga=1; wordpress_logged_in_abc=admin' });
    expect(loggedIn.cache).toBe('MISS');
    expect(loggedIn.reason).toBe('cookie');
    const unknown = await get('/cookies/', { cookie: 'pll_language=de' });
    expect(unknown.cache).toBe('HIT'); // like the edge: unknown cookies neither bypass nor fragment
  });

  it('strips marketing parameters from the key and keeps functional ones', async () => {
    await get('/campaign/?p=1');
    const tagged = await get('/campaign/?utm_source=x&p=1&fbclid=y&utm_medium=z');
    expect(tagged.cache).toBe('HIT');
    const other = await get('/campaign/?p=2&utm_source=x');
    expect(other.cache).toBe('MISS');
  });

  it('never caches admin, login, previews, POST; woocommerce pages only with the router hint', async () => {
    for (const path of [
      '/wp-admin/',
      '//wp-admin/',
      '/wp-login.php',
      '/?p=1&preview=true',
      '/?p=1&preview=1',
      '/wp-json/wp/v2/posts',
      '/?rest_route=/wp/v2/posts',
      '/?rest.route=/wp/v2/posts',
    ]) {
      await get(path);
      expect((await get(path)).cache, path).toBe('MISS');
    }
    const post = await get('/hello/', {}, 'alpha.farm.test', 'POST');
    expect(post.reason).toBe('method');
    await get('/cart/', { 'x-farm-woocommerce': '1' });
    expect((await get('/cart/', { 'x-farm-woocommerce': '1' })).reason).toBe('woocommerce');
  });

  it('caches ?rest_route= only where the router says the site caches its REST API', async () => {
    // Not `/`: the demo origin would tag it alpha-home, which a later purge test counts.
    const path = '/index.php?rest_route=/wp/v2/posts&cached=1';
    await get(path, { 'x-farm-rest-cache': '1' });
    expect((await get(path, { 'x-farm-rest-cache': '1' })).cache).toBe('HIT');
    expect((await get('/index.php?rest_route=/wp/v2/posts&cached=2')).reason).toBe('query');
  });

  it('refuses methods no visitor uses (405), as the edge does', async () => {
    for (const method of ['PROPFIND', 'MKCOL', 'TRACK']) {
      const r = await get('/hello/', {}, 'alpha.farm.test', method);
      expect(r.status, method).toBe(405);
    }
  });

  it('refuses BAN and PURGE without the secret (403) and accepts them with it (200)', async () => {
    expect((await purge('PURGE', { 'xkey-purge': 'alpha-home' })).status).toBe(403);
    expect((await purge('PURGE', { 'xkey-purge': 'alpha-home', 'x-purge-secret': 'wrong' })).status).toBe(
      403,
    );
    expect((await purge('BAN', { 'x-ban-host': 'alpha.farm.test' })).status).toBe(403);
    expect((await purge('BAN', { 'x-ban-host': 'alpha.farm.test', 'x-purge-secret': secret })).status).toBe(
      200,
    );
  });

  it('bans one exact URL of one host through obj.http.x-host/x-url', async () => {
    await get('/ban-me/');
    await get('/keep-me/');
    await get('/ban-me/', {}, 'beta.farm.test');
    const res = await purge('BAN', {
      'x-ban-host': 'alpha.farm.test',
      'x-ban-url': '/ban-me/',
      'x-purge-secret': secret,
    });
    expect(res.status).toBe(200);
    expect((await get('/ban-me/')).cache).toBe('MISS');
    expect((await get('/keep-me/')).cache).toBe('HIT');
    expect((await get('/ban-me/', {}, 'beta.farm.test')).cache).toBe('HIT');
    expect(await varnish.admin('ban.list')).toMatch(
      /obj\.http\.x-host == "?alpha\.farm\.test"? && obj\.http\.x-url == "?\/ban-me\/"?/,
    );
  });

  it('rejects a ban value that tries to add a clause', async () => {
    const res = await purge('BAN', {
      'x-ban-host': 'alpha.farm.test',
      'x-ban-url': '/" || obj.status != 0',
      'x-purge-secret': secret,
    });
    expect(res.status).toBe(400);
  });

  it('purges by xkey (gone) and soft-purges by xkey (kept as stale)', async () => {
    await get('/');
    expect((await get('/')).cache).toBe('HIT');
    const res = await purge('PURGE', { 'xkey-purge': 'alpha-home', 'x-purge-secret': secret });
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/Purged 1/);
    expect((await get('/')).cache).toBe('MISS');
    const soft = await purge('PURGE', { 'xkey-softpurge': 'alpha-home', 'x-purge-secret': secret });
    expect(soft.status).toBe(200);
    const after = await get('/');
    expect(after.cache).toBe('HIT');
    expect(after.state).toBe('stale');
  });

  it('answers its own health probe without the backend', async () => {
    expect((await get('/.varnish-health')).status).toBe(200);
    expect(hits('GET alpha.farm.test /.varnish-health')).toBe(0);
  });
});

describe('acl purgers (purgers.vcl)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcl-acl-'));
  chmodSync(dir, 0o755);
  const secret = 'purge-secret-for-the-acl-test';
  let varnish: VarnishInstance;

  beforeAll(async () => {
    // As in Swarm: purges only from the purger's network, which this test's loopback is not.
    varnish = await startVarnish({
      dir: join(dir, 'v'),
      backend: { host: '127.0.0.1', port: 9 },
      purgeSecret: secret,
      purgers: ['10.210.2.0/24'],
    });
  });
  afterAll(async () => {
    await varnish?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses BAN and PURGE with the right secret from an address outside the list', async () => {
    const base = `http://127.0.0.1:${varnish.port}/`;
    for (const [method, header] of [
      ['BAN', { 'x-ban-host': 'alpha.farm.test' }],
      ['PURGE', { 'xkey-purge': 'alpha-home' }],
    ] as const) {
      const r = await request(base, {
        method: method as 'GET',
        headers: { host: 'localhost', 'x-purge-secret': secret, ...header },
      });
      await r.body.dump();
      expect(r.statusCode, method).toBe(403);
    }
    expect(await varnish.admin('ban.list')).not.toContain('alpha.farm.test');
  });

  it('renders addresses and CIDRs, and refuses anything else', () => {
    expect(renderPurgersAcl(['127.0.0.1', '10.210.2.0/24', '::1'])).toBe(
      'acl purgers {\n  "127.0.0.1";\n  "10.210.2.0"/24;\n  "::1";\n}\n',
    );
    expect(() => renderPurgersAcl(['purger.farm'])).toThrow(/not an IP address or CIDR/);
    expect(() => renderPurgersAcl(['10.0.0.0/x'])).toThrow(/not an IP address or CIDR/);
  });
});

describe('grace: stale-if-error beyond stale-while-revalidate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcl-sie-'));
  chmodSync(dir, 0o755);
  let failing = false;
  let served = 0;
  let server: Server;
  let varnish: VarnishInstance;

  beforeAll(async () => {
    // A tiny origin whose pages are fresh for 1 s with no stale-while-revalidate window, so the
    // second request after expiry must fetch synchronously and fall back on the stale copy.
    server = createServer((_req, res) => {
      served++;
      if (failing) {
        res.writeHead(500).end('db down');
        return;
      }
      res.writeHead(200, { 'cache-control': 'max-age=1', 'x-farm-swr': '0', 'x-farm-sie': '3600' });
      res.end(`page ${served}`);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    varnish = await startVarnish({
      dir: join(dir, 'v'),
      backend: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
    });
  });
  afterAll(async () => {
    await varnish?.stop();
    server?.closeAllConnections();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the stale page when the origin answers 500, and a fresh one once it recovers', async () => {
    const url = `http://127.0.0.1:${varnish.port}/post/`;
    const first = await fetch(url).then((r) => r.text());
    expect(first).toBe('page 1');
    failing = true;
    await sleep(1500); // let the object expire (max-age=1)
    const stale = await fetch(url);
    expect(stale.status).toBe(200);
    expect(await stale.text()).toBe('page 1');
    expect(stale.headers.get('x-cache-state')).toBe('stale');
    expect(served).toBeGreaterThan(1); // the origin was asked and failed
    failing = false;
    const fresh = await fetch(url).then((r) => r.text());
    expect(fresh).toMatch(/^page \d+$/);
    expect(fresh).not.toBe('page 1');
  });
});

describe('what Varnish forwards to the origin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcl-hdr-'));
  chmodSync(dir, 0o755);
  const seen: Record<string, string | string[] | undefined>[] = [];
  let server: Server;
  let varnish: VarnishInstance;

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    varnish = await startVarnish({
      dir: join(dir, 'v'),
      backend: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
      purgeSecret: 'purge-secret-for-the-header-test',
    });
  });
  afterAll(async () => {
    await varnish?.stop();
    server?.closeAllConnections();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never the purge headers nor forged proxy headers, on a pass or a fetch (issue 16)', async () => {
    const sent = {
      'x-purge-secret': 'guess',
      'xkey-purge': 'alpha-home',
      'xkey-softpurge': 'alpha-home',
      'x-ban-host': 'alpha.farm.test',
      'x-ban-url': '/',
      forwarded: 'for=198.51.100.9;host=evil.test',
      'x-forwarded-port': '8443',
      'x-forwarded-prefix': '/evil',
      'x-real-ip': '6.6.6.6',
    };
    for (const path of ['/fetched/', '/wp-admin/']) {
      const r = await request(`http://127.0.0.1:${varnish.port}${path}`, {
        headers: { host: 'alpha.farm.test', ...sent },
      });
      await r.body.dump();
      expect(r.statusCode).toBe(200);
    }
    expect(seen).toHaveLength(2);
    for (const h of seen) for (const name of Object.keys(sent)) expect(h[name], name).toBeUndefined();
  });
});
