/**
 * buildApp wires the router from its parts: the HTTP server (node:http, llhttp) with its limits,
 * the door checks, the role's route (front: edge check → site → rendezvous node → Varnish, with
 * one retry; back: site → maintenance / circuit breaker → WordPress), metrics, tracing, the
 * registry holder, and the drain sequence. No environment access here.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Context, Span } from '@opentelemetry/api';
import type { Registry } from '@wpfarm/common/registry/schema';
import type { Logger } from 'pino';
import { Agent } from 'undici';
import { admit, type Breaker, newBreaker, record } from './circuit-breaker.ts';
import type { Config } from './config.ts';
import { clientAddress, clientAllowed, edgeVerified, forwardedFor } from './edge-auth.ts';
import { RouterError, upstreamError } from './errors.ts';
import { doorCheck, hasBody, limitBody, renderError } from './gate.ts';
import { sendMaintenance } from './maintenance.ts';
import { createMetrics, type RouterMetrics } from './metrics.ts';
import { CacheNodes } from './nodes.ts';
import { type AttemptResult, attempt, upstreamHeaders } from './proxy.ts';
import { type RegistryHolder, reloadRegistry } from './registry-watch.ts';
import {
  findSite,
  freshnessHints,
  routingHost,
  type SiteClass,
  siteClass,
  varnishHints,
} from './site-lookup.ts';
import { createTracing, type Tracing } from './tracing.ts';

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

/** Per-request state shared by the door, the route and the finish. */
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  start: number;
  siteClass: SiteClass;
  span: Span | undefined;
  traceCtx: Context | undefined;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Builds the router for `config.role`; call `server.listen` and `metricsServer.listen` after. */
export function buildApp(deps: AppDeps): App {
  const { config, logger } = deps;
  const role = config.role;
  const tracing = deps.tracing ?? createTracing();
  const metrics = createMetrics(role);
  const holder: RegistryHolder = { current: deps.registry };
  metrics.registrySites.set(deps.registry.sites.length);
  let draining = false;
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
      ? new Agent({
          connections: config.upstream.connections,
          connect: { timeout: config.upstream.connectTimeoutMs },
          headersTimeout: config.upstream.headersTimeoutMs,
          bodyTimeout: config.upstream.bodyTimeoutMs,
        })
      : undefined;
  const breakers = new Map<string, Breaker>();

  function finish(c: Ctx, status: number, err?: unknown): void {
    metrics.inflight.value--;
    metrics.request(c.siteClass, status);
    if (c.span) tracing.end(c.span, status, err);
    if (config.accessLog)
      logger.info(
        {
          id: c.requestId,
          method: c.req.method,
          host: c.req.headers.host,
          url: c.req.url,
          status,
          ms: Math.round((performance.now() - c.start) * 10) / 10,
        },
        'request',
      );
  }

  function fail(c: Ctx, err: RouterError): void {
    // An unread request body would desynchronise the connection: close it after the answer.
    renderError(c.res, err, c.requestId, draining || hasBody(c.req));
    if (err.status >= 500)
      logger.warn({ id: c.requestId, code: err.code, err: err.cause ?? err.message }, err.message);
    finish(c, err.status, err.status >= 500 ? err : undefined);
  }

  function ping(c: Ctx): void {
    const body = draining ? 'draining\n' : 'ok\n';
    c.res.writeHead(draining ? 503 : 200, {
      'content-type': 'text/plain',
      'content-length': body.length,
      'cache-control': 'no-store',
      ...(draining ? { connection: 'close' } : {}),
    });
    c.res.end(body);
    c.siteClass = 'local';
    finish(c, draining ? 503 : 200);
  }

  function requestBody(req: IncomingMessage) {
    if (!hasBody(req)) return null;
    return req.headers['content-length'] !== undefined
      ? req
      : Readable.from(limitBody(req, limits.maxBodyBytes));
  }

  function baseResponseHeaders(c: Ctx): string[] {
    return draining ? ['x-request-id', c.requestId, 'connection', 'close'] : ['x-request-id', c.requestId];
  }

  /** Response headers of a front attempt: which cache node answered helps every debugging session. */
  function nodeHeaders(c: Ctx, node: string): string[] {
    const out = baseResponseHeaders(c);
    out.push('x-router-node', node);
    return out;
  }

  // ---- front: edge → site → rendezvous node → Varnish ------------------------------------
  function front(c: Ctx): void {
    const req = c.req;
    const h = req.headers;
    const edgeOk = edgeVerified(h['x-edge-auth'], config.front.edgeKeys);
    const edgeHost = edgeOk ? h['x-edge-host'] : undefined;
    const entry = findSite(
      holder.current,
      routingHost(h.host, typeof edgeHost === 'string' ? edgeHost : undefined, edgeOk),
    );
    if (entry === undefined && req.url === '/ping') {
      ping(c);
      return;
    }
    if (!edgeOk) {
      fail(c, new RouterError('EDGE_AUTH_FAILED'));
      return;
    }
    const remote = req.socket.remoteAddress ?? '';
    const xff = typeof h['x-forwarded-for'] === 'string' ? h['x-forwarded-for'] : undefined;
    if (
      config.front.clientAllowlist &&
      !clientAllowed(clientAddress(remote, xff, config.trustedHops), config.front.clientAllowlist)
    ) {
      fail(c, new RouterError('CLIENT_NOT_ALLOWED'));
      return;
    }
    if (entry === undefined) {
      fail(c, new RouterError('UNKNOWN_HOST'));
      return;
    }
    const site = entry.site;
    c.siteClass = siteClass(site);
    const headers = upstreamHeaders(req.rawHeaders, h.connection, tracing.enabled);
    headers.push(
      'host',
      site.host,
      'x-forwarded-for',
      forwardedFor(remote, xff, config.trustedHops),
      'x-request-id',
      c.requestId,
    );
    varnishHints(site, h.cookie, headers);
    const body = requestBody(req);
    const method = req.method ?? 'GET';
    const retryable = body === null && IDEMPOTENT.has(method);
    const n = nodes!;
    const order = n.order(site.host);

    const tryNode = (i: number, retriesLeft: number): void => {
      const node = n.list[i]!;
      n.begin(i);
      const t0 = performance.now();
      let sent = headers;
      let span: Span | undefined;
      if (c.traceCtx) {
        sent = headers.slice();
        span = tracing.client(
          c.traceCtx,
          `varnish ${node.cfg.id}`,
          { 'server.address': node.origin, 'cache.node': node.cfg.id },
          sent,
        );
      }
      attempt({
        dispatcher: node.pool,
        method,
        path: req.url ?? '/',
        headers: sent,
        body,
        req,
        res: c.res,
        retryOn503: retryable && retriesLeft > 0,
        responseHeaders: nodeHeaders(c, node.cfg.id),
        done: (r: AttemptResult) => {
          const connFailure = r.outcome === 'error' && r.status === 0;
          n.end(i, !connFailure);
          metrics.upstream(node.cfg.id, r.cache || 'none', (performance.now() - t0) / 1000);
          if (span) {
            span.setAttribute('cache.status', r.cache || 'none');
            tracing.end(span, r.status, r.outcome === 'error' ? r.error : undefined);
          }
          const canRetry = retryable && retriesLeft > 0 && !c.res.destroyed;
          if (r.outcome === 'retry' || (connFailure && canRetry)) {
            const next = n.choose(order, i);
            if (next !== -1 && next !== i && canRetry) {
              metrics.retries.inc({ role, reason: r.outcome === 'retry' ? '503' : 'connect' });
              tryNode(next, retriesLeft - 1);
              return;
            }
            fail(c, new RouterError('NO_HEALTHY_NODE', { cause: r.error }));
            return;
          }
          if (r.outcome === 'error' && !r.started) {
            fail(c, upstreamError(r.error));
            return;
          }
          finish(c, r.outcome === 'ok' ? r.status : 502, r.error);
        },
      });
    };
    const first = n.choose(order, -1);
    if (first === -1) {
      fail(c, new RouterError('NO_HEALTHY_NODE'));
      return;
    }
    tryNode(first, 1);
  }

  // ---- back: site → maintenance / breaker → WordPress --------------------------------------
  function back(c: Ctx): void {
    const req = c.req;
    const h = req.headers;
    const entry = findSite(holder.current, h.host);
    if (entry === undefined && req.url === '/ping') {
      ping(c);
      return;
    }
    if (entry === undefined) {
      fail(c, new RouterError('UNKNOWN_HOST'));
      return;
    }
    const site = entry.site;
    c.siteClass = siteClass(site);
    if (site.policy.maintenance) {
      sendMaintenance(c.res, site, config.back.maintenanceRetryAfterS, c.requestId);
      finish(c, 503);
      return;
    }
    let breaker = breakers.get(site.upstream);
    if (breaker === undefined) {
      breaker = newBreaker();
      breakers.set(site.upstream, breaker);
    }
    const admitted = admit(breaker, config.back.breaker, Date.now());
    if (!admitted.ok) {
      fail(c, new RouterError('CIRCUIT_OPEN', { retryAfter: admitted.retryAfterS, detail: site.id }));
      return;
    }
    const remote = req.socket.remoteAddress ?? '';
    const xff = typeof h['x-forwarded-for'] === 'string' ? h['x-forwarded-for'] : undefined;
    const headers = upstreamHeaders(req.rawHeaders, h.connection, tracing.enabled);
    headers.push(
      'host',
      site.host,
      'x-forwarded-for',
      forwardedFor(remote, xff, config.trustedHops),
      'x-request-id',
      c.requestId,
    );
    const t0 = performance.now();
    let sent = headers;
    let span: Span | undefined;
    if (c.traceCtx) {
      sent = headers.slice();
      span = tracing.client(
        c.traceCtx,
        `wordpress ${site.id}`,
        { 'server.address': site.upstream, 'site.id': site.id },
        sent,
      );
    }
    const responseHeaders = baseResponseHeaders(c);
    responseHeaders.push(...freshnessHints(site));
    const b = breaker;
    attempt({
      dispatcher: agent!,
      origin: site.upstream,
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: sent,
      body: requestBody(req),
      req,
      res: c.res,
      retryOn503: false,
      responseHeaders,
      done: (r) => {
        metrics.upstream('wordpress', 'none', (performance.now() - t0) / 1000);
        const healthy = r.outcome === 'ok' ? r.status < 502 || r.status > 504 : r.started;
        if (record(b, config.back.breaker, healthy, Date.now())) {
          metrics.circuitOpened.inc({ role });
          logger.warn({ site: site.id, upstream: site.upstream }, 'circuit opened');
        }
        if (span) tracing.end(span, r.status, r.outcome === 'error' ? r.error : undefined);
        if (r.outcome === 'error' && !r.started) {
          fail(c, upstreamError(r.error));
          return;
        }
        finish(c, r.outcome === 'ok' ? r.status : 502, r.error);
      },
    });
  }

  const route = role === 'front' ? front : back;

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const rid = req.headers['x-request-id'];
    const c: Ctx = {
      req,
      res,
      requestId: typeof rid === 'string' && rid.length > 0 && rid.length <= 200 ? rid : randomUUID(),
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
        'server.address': req.headers.host ?? '',
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
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks header/request timeouts on this interval (default 30 s): keep it below them.
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 4))),
      requireHostHeader: true,
    },
    onRequest,
  );
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
    socket.end(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
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
    if (draining) return;
    draining = true;
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
