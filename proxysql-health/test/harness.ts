/** Helpers for the real-peer tests: an in-process checker on listen(0), probes, waiting for rounds. */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { HEALTH_USER } from '@wpfarm/common/peers/galera';
import { rawRequest } from '@wpfarm/common/testing/http';
import pino from 'pino';
import { type App, buildApp } from '../src/app.ts';
import type { Evaluation } from '../src/checker.ts';
import { loadConfig } from '../src/config.ts';

/**
 * The production interval and query timeout (config.ts), a shorter canary interval. The query
 * timeout used to be 250 ms here, far below production's 800 ms: on a loaded 2-core machine a
 * connect or a status read took longer now and then, the canary failed, and (before it was
 * retried every round) held the node at 503 for a whole canary interval, so a test probing once
 * for 200 failed under a parallel `npm test` and passed alone.
 */
export const TEST_ENV = {
  HEALTH_TIMEOUT_FALL: '2',
  HEALTH_CANARY_INTERVAL_MS: '3000',
  MYSQL_HOST: '127.0.0.1',
  MYSQL_USER: HEALTH_USER.user,
  MYSQL_PASSWORD: HEALTH_USER.password,
};

export interface Checker {
  app: App;
  url: string;
  /** Rounds published so far (the latest evaluation's sequence number). */
  rounds(): number;
  /** Every evaluation published since start, in order (drain re-renders included). */
  evaluations: Evaluation[];
  close(): Promise<void>;
}

/** Builds and starts a checker in this process, listening on a free port. */
export async function startChecker(env: Record<string, string>): Promise<Checker> {
  const config = loadConfig({ ...TEST_ENV, ...env, HOST: '127.0.0.1', PORT: '0' });
  const app = buildApp({ config, logger: pino({ level: 'silent' }) });
  // Recorded as published, not sampled: a sampler on a busy event loop missed rounds.
  const evaluations: Evaluation[] = [];
  const unsubscribe = app.onEvaluation((e) => evaluations.push(e));
  app.checker.start();
  await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    rounds: () => app.current()?.seq ?? 0,
    evaluations,
    async close() {
      unsubscribe();
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

/** Probes `c` from `loops` concurrent loops until `stop()` is called; each probe with its send time. */
export function probeLoop(c: Checker, loops = 4) {
  const seen: { sent: number; status: number }[] = [];
  let stopped = false;
  const running = Promise.all(
    Array.from({ length: loops }, async () => {
      while (!stopped) {
        const sent = Date.now();
        seen.push({ sent, status: (await probe(c)).status });
      }
    }),
  );
  return {
    seen,
    async stop() {
      stopped = true;
      await running;
    },
  };
}

/** The first round of `c` that started strictly after `t` (waits for it). */
export async function firstRoundAfter(c: Checker, t: number): Promise<Evaluation> {
  let found: Evaluation | undefined;
  await waitFor('a round that started after the change', () => {
    found = c.evaluations.find((e) => e.startedAt > t);
    return found !== undefined;
  });
  return found as Evaluation;
}
