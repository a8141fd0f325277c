/**
 * buildApp(deps): the checker wired to a node:http server. Probes are answered from the
 * pre-rendered snapshot only; the drain API flips an in-memory flag and re-renders.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { constantTimeEqual } from '@wpfarm/common/contracts/edge-auth';
import { createServer } from '@wpfarm/common/node-http';
import type { Logger } from 'pino';
import { type Checker, createChecker, type Evaluation } from './checker.ts';
import type { Config } from './config.ts';
import { HealthError } from './errors.ts';
import { createMetrics, type HealthMetrics } from './metrics.ts';
import { answer, type Endpoint, type Rendered, render } from './snapshot.ts';

export interface AppDeps {
  config: Config;
  logger: Logger;
  now?: () => number;
}

export interface App {
  server: Server;
  checker: Checker;
  metrics: HealthMetrics;
  /** Latest evaluation (undefined before the first). */
  current(): Evaluation | undefined;
  /** Stops the checker and closes the server. */
  close(): Promise<void>;
}

const PROBES: Record<string, Endpoint> = {
  '/health': 'health',
  '/health/writer': 'writer',
  '/health/reader': 'reader',
};
const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };
const MAX_BODY = 1024;

/** Builds the checker and its HTTP server (not listening yet, checker not started). */
export function buildApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const now = deps.now ?? Date.now;
  const staleMs = config.staleIntervals * config.intervalMs;
  let rendered: Rendered | undefined;
  let latest: Evaluation | undefined;
  const metrics = createMetrics(() => latest, now);
  const checker = createChecker({
    config,
    logger,
    now,
    onEvaluation(e) {
      latest = e;
      rendered = render(e.verdict, e.at);
      metrics.evaluation(e);
    },
    onFailure: (target, kind) => metrics.failure(target, kind),
  });

  function send(res: ServerResponse, status: number, body: string, head: boolean) {
    res.writeHead(status, { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) });
    res.end(head ? undefined : body);
  }

  function status(): object {
    const e = latest;
    return {
      verdict: e?.verdict ?? null,
      age_ms: e ? now() - e.at : null,
      stale_after_ms: staleMs,
      interval_ms: config.intervalMs,
      evaluation_ms: e?.durationMs ?? null,
      mariadb: e?.galera ?? null,
      proxysql: e?.proxysql ?? null,
      canary: e?.canary ?? null,
      drain: { api: checker.drained, file: e?.drain.file ?? false, drain_file: config.drainFile ?? null },
      policy: config.policy,
    };
  }

  function drain(req: IncomingMessage, res: ServerResponse) {
    if (!config.drainToken) throw new HealthError('DRAIN_DISABLED');
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!constantTimeEqual(token, config.drainToken)) throw new HealthError('UNAUTHORIZED');
    const on = req.method === 'POST';
    checker.setDrain(on);
    logger.warn({ drain: on, from: req.socket.remoteAddress }, on ? 'drain requested' : 'drain lifted');
    send(res, 200, JSON.stringify({ drain: on }), false);
  }

  function handle(req: IncomingMessage, res: ServerResponse) {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const path = q === -1 ? raw : raw.slice(0, q);
    const method = req.method ?? 'GET';
    const probe = PROBES[path];
    if (probe) {
      if (method !== 'GET' && method !== 'HEAD') throw new HealthError('METHOD_NOT_ALLOWED');
      const a = answer(rendered, probe, now(), staleMs);
      metrics.probe(probe, a.status);
      send(res, a.status, a.body, method === 'HEAD');
      return;
    }
    if (path === '/status') {
      if (method !== 'GET' && method !== 'HEAD') throw new HealthError('METHOD_NOT_ALLOWED');
      send(res, 200, JSON.stringify(status()), method === 'HEAD');
      return;
    }
    if (path === '/metrics') {
      if (method !== 'GET') throw new HealthError('METHOD_NOT_ALLOWED');
      void metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (err) => {
          logger.error({ err }, 'metrics failed');
          send(res, 500, '{"error":"metrics"}', false);
        },
      );
      return;
    }
    if (path === '/drain') {
      if (method !== 'POST' && method !== 'DELETE') throw new HealthError('METHOD_NOT_ALLOWED');
      if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw new HealthError('BODY_TOO_LARGE');
      drain(req, res);
      return;
    }
    throw new HealthError('NOT_FOUND');
  }

  const server = createServer((req, res) => {
    req.resume(); // bodies are not read; drain them so keep-alive works
    try {
      handle(req, res);
    } catch (err) {
      const e = err instanceof HealthError ? err : undefined;
      if (!e) logger.error({ err }, 'request failed');
      const body = JSON.stringify({ error: e?.code ?? 'INTERNAL', message: e?.message ?? 'internal error' });
      send(res, e?.status ?? 500, body, req.method === 'HEAD');
    }
  });
  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5000;

  return {
    server,
    checker,
    metrics,
    current: () => latest,
    async close() {
      await checker.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
