/** Helpers for the real-peer tests: an in-process checker on listen(0), probes, waiting for rounds. */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { rawRequest } from '@wpfarm/common/testing/http';
import pino from 'pino';
import { type App, buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { HEALTH_USER } from '../src/testing/galera.ts';

/** Short intervals for tests; the production defaults are in config.ts. */
export const TEST_ENV = {
  HEALTH_INTERVAL_MS: '300',
  HEALTH_QUERY_TIMEOUT_MS: '250',
  HEALTH_TIMEOUT_FALL: '2',
  HEALTH_CANARY_INTERVAL_MS: '3000',
  MYSQL_HOST: '127.0.0.1',
  MYSQL_USER: HEALTH_USER.user,
  MYSQL_PASSWORD: HEALTH_USER.password,
};

export interface Checker {
  app: App;
  url: string;
  /** Evaluations published so far. */
  rounds(): number;
  close(): Promise<void>;
}

/** Builds and starts a checker in this process, listening on a free port. */
export async function startChecker(env: Record<string, string>): Promise<Checker> {
  const config = loadConfig({ ...TEST_ENV, ...env, HOST: '127.0.0.1', PORT: '0' });
  const app = buildApp({ config, logger: pino({ level: 'silent' }) });
  let rounds = 0;
  let seen = app.current();
  const counter = setInterval(() => {
    const c = app.current();
    if (c && c !== seen) {
      seen = c;
      rounds++;
    }
  }, 5);
  app.checker.start();
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    rounds: () => rounds,
    async close() {
      clearInterval(counter);
      await app.close();
    },
  };
}

export interface Probe {
  status: number;
  body: { ok: boolean; verdict: string; reasons: string[]; age_ms: number | null };
}

/** One probe with a short client timeout: a probe that hangs fails the test. */
export async function probe(c: Checker, path = '/health', timeoutMs = 2000): Promise<Probe> {
  const r = await rawRequest(`${c.url}${path}`, { timeoutMs });
  return { status: r.status, body: JSON.parse(r.body) };
}

/** Waits until `cond` holds (checked every 50 ms); fails with `what` after `limitMs`. */
export async function waitFor(
  what: string,
  cond: () => Promise<boolean> | boolean,
  limitMs = 30_000,
): Promise<void> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`gave up waiting for: ${what}`);
    await sleep(50);
  }
}

/** Waits until `n` more evaluations have been published by `c`. */
export async function afterRounds(c: Checker, n: number): Promise<void> {
  const start = c.rounds();
  await waitFor(`${n} evaluation rounds`, () => c.rounds() >= start + n, 30_000);
}

/** Waits until `path` answers `status` (with a bound); returns the last probe. */
export async function waitStatus(
  c: Checker,
  status: number,
  path = '/health',
  limitMs = 30_000,
): Promise<Probe> {
  let last: Probe | undefined;
  await waitFor(
    `${c.url}${path} → ${status}`,
    async () => {
      last = await probe(c, path);
      return last.status === status;
    },
    limitMs,
  );
  return last as Probe;
}
