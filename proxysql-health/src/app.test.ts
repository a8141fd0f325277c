/** In-process HTTP tests: routing, methods, the starting and stale rules, drain auth. No database. */
import type { AddressInfo } from 'node:net';
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

  it('a snapshot older than 3 intervals answers 503 stale', async () => {
    const url = await start({ HEALTH_INTERVAL_MS: '1000' });
    await app?.checker.runOnce();
    clock += 3001;
    const r = JSON.parse((await rawRequest(`${url}/health`)).body);
    expect(r).toMatchObject({ verdict: 'stale', reasons: ['snapshot_stale'], age_ms: 3001 });
    clock -= 3001;
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

  it('drain refuses a large body before looking at the token', async () => {
    const url = await start({ HEALTH_DRAIN_TOKEN: 'a-drain-token-long-enough' });
    const r = await rawRequest(`${url}/drain`, { method: 'POST', body: 'x'.repeat(5000) });
    expect(r.status).toBe(413);
  });
});
