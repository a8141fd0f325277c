/**
 * buildApp(deps): the checker wired to a node:http server. Probes are answered from the
 * pre-rendered snapshot only; the drain API flips an in-memory flag and re-renders.
 */
import { access } from 'node:fs/promises';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { bearerMatches } from '@wpfarm/common/bearer';
import { capConnections, timeoutOptions } from '@wpfarm/common/http-limits';
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
  /** Calls `fn` with every evaluation published from now on (tests, the bench); returns an unsubscribe. */
  onEvaluation(fn: (e: Evaluation) => void): () => void;
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
  const staleMs = config.staleMs;
  let rendered: Rendered | undefined;
  let latest: Evaluation | undefined;
  const listeners = new Set<(e: Evaluation) => void>();
  const metrics = createMetrics(() => latest, now);
  const checker = createChecker({
    config,
    logger,
    now,
    onEvaluation(e) {
      latest = e;
      rendered = render(e.verdict, e.at);
      metrics.evaluation(e);
      for (const fn of listeners) fn(e);
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
      round: e?.seq ?? null,
      evaluation_ms: e?.durationMs ?? null,
      primary_proof: e?.proof ?? null,
      mariadb: e?.galera ?? null,
      proxysql: e?.proxysql ?? null,
      canary: e?.canary ?? null,
      drain: { api: checker.drained, file: e?.drain.file ?? false, drain_file: config.drainFile ?? null },
      policy: config.policy,
    };
  }

  /** The file's state now, not the last round's: the operator may have just removed it. */
  async function drainFileNow(): Promise<boolean> {
    if (!config.drainFile) return false;
    return access(config.drainFile).then(
      () => true,
      () => false,
    );
  }

  /**
   * Whether the node is held out by a drain, and by which: the API flag, the drain file, or
   * MariaDB itself (`wsrep_desync`, `wsrep_reject_queries`). DELETE /drain lifts only the API
   * flag, so its answer must say when something else still keeps the node at 503.
   */
  async function effectiveDrain(): Promise<object> {
    const file = await drainFileNow();
    const why: string[] = [];
    if (checker.drained) why.push('drain_api');
    if (file) why.push('drain_file');
    for (const r of latest?.verdict.reasons ?? [])
      if (r === 'wsrep_desync' || r === 'wsrep_reject_queries') why.push(r);
    return {
      drain: why.length > 0,
      why,
      api: checker.drained,
      file,
      drain_file: config.drainFile ?? null,
      verdict: latest?.verdict.health ?? null,
    };
  }

  async function drain(req: IncomingMessage, res: ServerResponse) {
    if (!config.drainToken) throw new HealthError('DRAIN_DISABLED');
    if (!bearerMatches(req.headers.authorization, config.drainToken)) throw new HealthError('UNAUTHORIZED');
    const on = req.method === 'POST';
    checker.setDrain(on);
    logger.warn({ drain: on, from: req.socket.remoteAddress }, on ? 'drain requested' : 'drain lifted');
    send(res, 200, JSON.stringify(await effectiveDrain()), false);
  }

  /** /status shows backend addresses and MariaDB variables: only to a holder of either token. */
  function statusAllowed(req: IncomingMessage): void {
    if (!config.statusToken && !config.drainToken) throw new HealthError('STATUS_DISABLED');
    const auth = req.headers.authorization;
    if (!bearerMatches(auth, config.statusToken) && !bearerMatches(auth, config.drainToken))
      throw new HealthError('UNAUTHORIZED');
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
    if (path === '/live') {
      // The checker's own liveness for Docker and Swarm (not the verdict, which is /health): 200
      // while the evaluation loop publishes, whatever it finds. Says nothing about the node.
      if (method !== 'GET' && method !== 'HEAD') throw new HealthError('METHOD_NOT_ALLOWED');
      const alive = latest !== undefined && now() - latest.at <= staleMs;
      send(res, alive ? 200 : 503, `{"live":${alive}}`, method === 'HEAD');
      return;
    }
    if (path === '/status') {
      if (method !== 'GET' && method !== 'HEAD') throw new HealthError('METHOD_NOT_ALLOWED');
      statusAllowed(req);
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
      drain(req, res).catch((err) => fail(req, res, err));
      return;
    }
    throw new HealthError('NOT_FOUND');
  }

  function fail(req: IncomingMessage, res: ServerResponse, err: unknown) {
    const e = err instanceof HealthError ? err : undefined;
    if (!e) logger.error({ err }, 'request failed');
    if (res.headersSent) return void res.destroy();
    const body = JSON.stringify({ error: e?.code ?? 'INTERNAL', message: e?.message ?? 'internal error' });
    if (e?.code === 'UNAUTHORIZED') res.setHeader('www-authenticate', 'Bearer');
    send(res, e?.status ?? 500, body, req.method === 'HEAD');
  }

  // The limits are server options: Node checks the headers timeout on an interval that can only
  // be set here (30 s by default, so a silent connection outlived its timeout by up to that).
  const server = createServer(timeoutOptions(config.connections), (req, res) => {
    req.resume(); // bodies are not read; drain them so keep-alive works
    try {
      handle(req, res); // synchronous for probes: no promise per probe; /drain catches its own
    } catch (err) {
      fail(req, res, err);
    }
  });
  let refusedLogAt = 0;
  const connections = capConnections(server, config.connections.maxConnections, () => {
    // One line per 10 s at most: a flood must not turn into a flood of logs.
    if (now() - refusedLogAt < 10_000) return;
    refusedLogAt = now();
    logger.warn(
      { max: config.connections.maxConnections },
      'connection refused: HEALTH_MAX_CONNECTIONS open',
    );
  });
  metrics.watchConnections(connections);

  return {
    server,
    checker,
    metrics,
    current: () => latest,
    onEvaluation(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    async close() {
      await checker.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
