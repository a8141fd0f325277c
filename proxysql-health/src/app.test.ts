/** In-process HTTP tests: routing, methods, the starting and stale rules, drain auth. No database. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawRequest } from '@wpfarm/common/testing/http';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type App, buildApp } from './app.ts';
import { loadConfig } from './config.ts';

let app: App | undefined;
let clock = 1_000_000;

/** A checker whose MariaDB is a closed port: every round is a connection error. */
async function start(env: Record<string, string> = {}): Promise<string> {
  const config = loadConfig({
    MYSQL_HOST: '127.0.0.1',
    MYSQL_PORT: '1',
    HEALTH_CANARY_INTERVAL_MS: '0',
    ...env,
  });
  app = buildApp({ config, logger: pino({ level: 'silent' }), now: () => clock });
  await new Promise<void>((resolve) => app?.server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('HTTP surface', () => {
  it('answers 503 "starting" before the first evaluation, on every probe endpoint', async () => {
    const url = await start();
    for (const path of ['/health', '/health/writer', '/health/reader', '/health?x=1']) {
      const r = await rawRequest(`${url}${path}`);
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body).verdict).toBe('starting');
    }
  });

  it('a refused MariaDB connection is unhealthy after one round', async () => {
    const url = await start();
    await app?.checker.runOnce();
    const r = JSON.parse((await rawRequest(`${url}/health`)).body);
    expect(r).toMatchObject({ ok: false, verdict: 'unhealthy', reasons: ['mariadb_error'], age_ms: 0 });
  });

  it('a snapshot older than 3 intervals plus a query timeout answers 503 stale', async () => {
    const url = await start({ HEALTH_INTERVAL_MS: '1000', HEALTH_QUERY_TIMEOUT_MS: '500' });
    await app?.checker.runOnce();
    clock += 3500;
    expect(JSON.parse((await rawRequest(`${url}/health`)).body).verdict).toBe('unhealthy');
    clock += 1;
    const r = JSON.parse((await rawRequest(`${url}/health`)).body);
    expect(r).toMatchObject({ verdict: 'stale', reasons: ['snapshot_stale'], age_ms: 3501 });
    clock -= 3501;
  });

  it.each([
    ['POST', '/health', 405],
    ['GET', '/nope', 404],
    ['PUT', '/drain', 405],
    ['POST', '/drain', 404],
  ])('%s %s → %i with an error code', async (method, path, status) => {
    const url = await start();
    const r = await rawRequest(`${url}${path}`, { method });
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body).error).toMatch(/^[A-Z_]+$/);
  });

  it('/live is open and says only whether the evaluation loop runs', async () => {
    const url = await start();
    expect((await rawRequest(`${url}/live`)).status).toBe(503);
    await app?.checker.runOnce();
    const r = await rawRequest(`${url}/live`);
    expect(r.status).toBe(200);
    expect(r.body).toBe('{"live":true}');
  });

  it('drain refuses a large body before looking at the token', async () => {
    const url = await start({ HEALTH_DRAIN_TOKEN: 'a-drain-token-long-enough' });
    const r = await rawRequest(`${url}/drain`, { method: 'POST', body: 'x'.repeat(5000) });
    expect(r.status).toBe(413);
  });
});

const TOKEN = 'a-drain-token-long-enough';
const STATUS_TOKEN = 'a-status-token-long-enough';

describe('/status and /drain (issue 16 item 12)', () => {
  it('regression: /status (backend addresses, MariaDB variables) is refused without a token', async () => {
    const url = await start({ HEALTH_DRAIN_TOKEN: TOKEN, HEALTH_STATUS_TOKEN: STATUS_TOKEN });
    await app?.checker.runOnce();
    const none = await rawRequest(`${url}/status`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.body).not.toContain('mariadb');
    expect(
      (await rawRequest(`${url}/status`, { headers: { authorization: 'Bearer nope-nope-nope-nope' } }))
        .status,
    ).toBe(401);
    for (const t of [STATUS_TOKEN, TOKEN]) {
      const ok = await rawRequest(`${url}/status`, { headers: { authorization: `Bearer ${t}` } });
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toMatchObject({ verdict: { health: 'unhealthy' }, round: 1 });
    }
  });

  it('/status is off (404) when no token is configured; the probes stay open', async () => {
    const url = await start();
    expect((await rawRequest(`${url}/status`)).status).toBe(404);
    expect((await rawRequest(`${url}/health`)).status).toBe(503);
  });

  it.each(['bearer', 'BEARER', 'Bearer', 'bEaReR'])(
    'regression: the Bearer scheme is case-insensitive (%s)',
    async (scheme) => {
      const url = await start({ HEALTH_DRAIN_TOKEN: TOKEN });
      const r = await rawRequest(`${url}/drain`, {
        method: 'POST',
        headers: { authorization: `${scheme} ${TOKEN}` },
      });
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ drain: true, why: ['drain_api'] });
    },
  );

  it('regression: DELETE /drain while a drain file holds the node says drain: true and why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ph-drain-'));
    try {
      const file = join(dir, 'drain');
      const url = await start({ HEALTH_DRAIN_TOKEN: TOKEN, HEALTH_DRAIN_FILE: file });
      await writeFile(file, '');
      const auth = { authorization: `Bearer ${TOKEN}` };
      await rawRequest(`${url}/drain`, { method: 'POST', headers: auth });
      const lifted = await rawRequest(`${url}/drain`, { method: 'DELETE', headers: auth });
      expect(lifted.status).toBe(200);
      expect(JSON.parse(lifted.body)).toMatchObject({
        drain: true,
        why: ['drain_file'],
        api: false,
        file: true,
      });
      await rm(file);
      const clear = await rawRequest(`${url}/drain`, { method: 'DELETE', headers: auth });
      expect(JSON.parse(clear.body)).toMatchObject({ drain: false, why: [], api: false, file: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Opens a raw TCP connection that sends nothing; resolves once it is connected. */
function silent(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s));
    s.on('error', reject);
  });
}

/** Resolves with what the server sent before closing, or 'open' after `ms`. */
function closedWithin(s: Socket, ms: number): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const t = setTimeout(() => resolve('open'), ms);
    s.on('data', (d) => {
      got += d.toString('latin1');
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(got);
    });
  });
}

describe('client connections (issue 16 Build 6)', () => {
  it('regression: a connection that sends nothing is answered 408 and closed by the headers timeout', async () => {
    const url = await start({ HEALTH_HEADERS_TIMEOUT_MS: '300' });
    const s = await silent(url);
    const t0 = Date.now();
    // Node's default check runs every 30 s: without timeoutOptions this connection stays open.
    const got = await closedWithin(s, 5000);
    expect(got).toMatch(/^HTTP\/1\.1 408/);
    // Not at once: Node's own deadline is 0.8× the timeout (closed between 0.8× and 1×).
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    s.destroy();
  });

  it('caps open connections, refuses the next ones at once and counts both in /metrics', async () => {
    const url = await start({ HEALTH_MAX_CONNECTIONS: '2' });
    const held = [await silent(url), await silent(url)];
    try {
      const extra = await silent(url);
      expect(await closedWithin(extra, 5000)).toBe('');
      for (const s of held) s.destroy();
      // The two silent ones are gone: there is room for the scrape itself again.
      const m = await (async () => {
        for (let i = 0; i < 100; i++) {
          const r = await rawRequest(`${url}/metrics`).catch(() => undefined);
          if (r?.status === 200) return r.body;
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error('/metrics never answered');
      })();
      expect(m).toMatch(/health_connections_open 1\b/);
      expect(m).toMatch(/health_connections_refused_total [1-9]/);
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
