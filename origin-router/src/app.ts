/**
 * buildApp wires the router from its parts: the HTTP server (node:http, llhttp) with its limits,
 * the door checks, the role's route (front: edge check → site → rendezvous node → Varnish, with
 * one retry; back: site → maintenance / circuit breaker → WordPress), metrics, tracing, the
 * registry holder, and the drain sequence. No environment access here.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { capConnections, timeoutOptions } from '@wpfarm/common/http-limits';
import { createServer } from '@wpfarm/common/node-http';
import type { Registry } from '@wpfarm/common/registry/schema';
import type { Logger } from 'pino';
import { createBackRoute } from './back.ts';
import type { Config } from './config.ts';
import { upstreamError } from './errors.ts';
import { type Ctx, createAnswers } from './exchange.ts';
import { createFrontRoute } from './front.ts';
import { doorCheck, requestTarget } from './gate.ts';
import { createMetrics, type RouterMetrics } from './metrics.ts';
import { CacheNodes } from './nodes.ts';
import { type RegistryHolder, reloadRegistry } from './registry-watch.ts';
import { createTracing, type Tracing } from './tracing.ts';
import { UpstreamAgent } from './upstream.ts';

export interface AppDeps {
  config: Config;
  registry: Registry;
  logger: Logger;
  /** Defaults to detecting a registered OpenTelemetry SDK. */
  tracing?: Tracing;
}

export interface App {
  server: Server;
  metricsServer: Server;
  metrics: RouterMetrics;
  holder: RegistryHolder;
  nodes: CacheNodes | undefined;
  /** Reloads the registry file; a bad file keeps the live registry and logs every issue. */
  reload(): Promise<boolean>;
  /** /ping turns 503, then after the drain delay the listener closes and in-flight requests finish. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/** Builds the router for `config.role`; call `server.listen` and `metricsServer.listen` after. */
export function buildApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const role = config.role;
  const tracing = deps.tracing ?? createTracing();
  const metrics = createMetrics(role);
  const holder: RegistryHolder = { current: deps.registry };
  metrics.registrySites.set(deps.registry.sites.length);
  const state = { draining: false };
  const limits = config.limits;

  const nodes =
    role === 'front'
      ? new CacheNodes(config, {
          ejected: (n) => {
            metrics.ejections.inc({ node: n.cfg.id });
            logger.warn({ node: n.cfg.id }, 'cache node ejected after consecutive failures');
          },
          availability: (n, up) => {
            metrics.nodeAvailable.set({ node: n.cfg.id }, up ? 1 : 0);
            logger.warn({ node: n.cfg.id, available: up }, up ? 'cache node back' : 'cache node unavailable');
          },
        })
      : undefined;
  for (const n of nodes?.list ?? []) metrics.nodeAvailable.set({ node: n.cfg.id }, 1);

  const agent =
    role === 'back'
      ? new UpstreamAgent({
          connections: config.upstream.connections,
          connectTimeoutMs: config.upstream.connectTimeoutMs,
          headersTimeoutMs: config.upstream.headersTimeoutMs,
          bodyTimeoutMs: config.upstream.bodyTimeoutMs,
        })
      : undefined;

  const answers = createAnswers({ config, logger, metrics, tracing, state });
  const { fail } = answers;
  const route =
    role === 'front'
      ? createFrontRoute({ config, holder, nodes: nodes!, metrics, tracing, answers })
      : createBackRoute({ config, holder, agent: agent!, metrics, tracing, logger, answers });

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const rid = req.headers['x-request-id'];
    const c: Ctx = {
      req,
      res,
      requestId: typeof rid === 'string' && rid.length > 0 && rid.length <= 200 ? rid : randomUUID(),
      path: req.url ?? '/',
      start: performance.now(),
      siteClass: 'unknown',
      span: undefined,
      traceCtx: undefined,
    };
    metrics.inflight.value++;
    if (tracing.enabled) {
      const s = tracing.server(req.method ?? 'GET', req.headers, {
        'http.request.method': req.method ?? '',
        'url.path': req.url ?? '',
        // The Host this router was addressed by, without the port (semantic conventions).
        'server.address': (req.headers.host ?? '').replace(/:\d+$/, ''),
        'router.role': role,
      });
      c.span = s.span;
      c.traceCtx = s.ctx;
    }
    const problem = doorCheck(req, limits);
    if (problem) {
      fail(c, problem);
      return;
    }
    const target = requestTarget(c.path, req.headers.host);
    if (typeof target !== 'string') {
      fail(c, target);
      return;
    }
    c.path = target;
    try {
      route(c);
    } catch (err) {
      logger.error({ err, id: c.requestId }, 'route failed');
      fail(c, upstreamError(err));
    }
  }

  const server = createServer(
    {
      maxHeaderSize: limits.maxHeaderBytes,
      // A silent connection is closed within HEADERS_TIMEOUT_MS (see timeoutOptions).
      ...timeoutOptions({
        headersTimeoutMs: limits.headersTimeoutMs,
        requestTimeoutMs: limits.requestTimeoutMs,
        keepAliveTimeoutMs: limits.keepAliveTimeoutMs,
      }),
      requireHostHeader: true,
      // A cached page (tens of KB) is written in one go without tripping backpressure on every
      // response: with the default 16 KB, each write returned false and paused the upstream.
      highWaterMark: 64 * 1024,
    },
    onRequest,
  );
  metrics.connections.counts = capConnections(server, limits.maxConnections);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const code = err.code ?? 'UNKNOWN';
    metrics.clientErrors.inc({ code });
    if (code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      code === 'HPE_HEADER_OVERFLOW'
        ? 431
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? 408
          : code === 'HPE_URI_TOO_LONG'
            ? 414
            : 400;
    // Destroyed once written: node:http servers allow half-open sockets, so after a bare end() a
    // client that never closes its side would keep the connection (and its slot) forever.
    socket.end(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      () => socket.destroy(),
    );
    logger.debug({ code, remote: socket.remoteAddress }, 'client error');
  });

  const metricsServer = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
      (err) => {
        res.writeHead(500).end(String(err));
      },
    );
  });

  nodes?.start();

  async function reload(): Promise<boolean> {
    const report = await reloadRegistry(holder, config.registryFile);
    metrics.registryReloads.inc({ result: report.ok ? 'ok' : 'invalid' });
    if (report.ok) {
      metrics.registrySites.set(report.sites);
      nodes?.clearOrders();
      logger.info({ sites: report.sites, file: config.registryFile }, 'registry reloaded');
    } else {
      for (const issue of report.issues)
        logger.error({ issue }, 'registry reload refused; keeping the previous one');
    }
    return report.ok;
  }

  async function drain(): Promise<void> {
    if (state.draining) return;
    state.draining = true;
    logger.info({ delayMs: config.drain.delayMs }, 'draining: /ping answers 503');
    await sleep(config.drain.delayMs);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const deadline = Date.now() + config.drain.timeoutMs;
    while (metrics.inflight.value > 0 && Date.now() < deadline) {
      server.closeIdleConnections();
      await sleep(20);
    }
    server.closeAllConnections();
    await closed;
    logger.info({ abandoned: metrics.inflight.value }, 'drained');
  }

  async function close(): Promise<void> {
    if (server.listening) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    if (metricsServer.listening) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    await nodes?.close();
    await agent?.close();
  }

  return { server, metricsServer, metrics, holder, nodes, reload, drain, close };
}
