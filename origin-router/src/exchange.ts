/**
 * One exchange (request + response) as the routes see it, and the router's own ways of ending
 * one: finish (metrics, span, access log), fail (the error answer), ping (the LB's probe).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Context, Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { RouterError } from './errors.ts';
import { hasBody, limitBody, renderError } from './gate.ts';
import type { RouterMetrics } from './metrics.ts';
import type { SiteClass } from './site-lookup.ts';
import type { Tracing } from './tracing.ts';

/** Per-request state shared by the door, the route and the finish. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** The request target in origin form (absolute form reduced to it at the door). */
  path: string;
  start: number;
  siteClass: SiteClass;
  span: Span | undefined;
  traceCtx: Context | undefined;
}

export interface ExchangeDeps {
  config: Config;
  logger: Logger;
  metrics: RouterMetrics;
  tracing: Tracing;
  /** Shared with the drain sequence: while true, /ping says 503 and answers close their connection. */
  state: { draining: boolean };
}

/** The helpers every route uses to answer; bound to the app's metrics, tracing and drain state. */
export interface Answers {
  finish(c: Ctx, status: number, err?: unknown): void;
  fail(c: Ctx, err: RouterError): void;
  ping(c: Ctx): void;
  /** The request body to stream upstream (chunked bodies are size-limited), or null. */
  requestBody(req: IncomingMessage): Readable | null;
  /** The router's own response headers (x-request-id, and `connection: close` while draining). */
  baseResponseHeaders(c: Ctx): string[];
}

/** Creates the answer helpers. */
export function createAnswers(d: ExchangeDeps): Answers {
  const { config, logger, metrics, tracing, state } = d;
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
          url: c.path,
          status,
          ms: Math.round((performance.now() - c.start) * 10) / 10,
        },
        'request',
      );
  }

  function fail(c: Ctx, err: RouterError): void {
    // An unread request body would desynchronise the connection: close it after the answer.
    renderError(c.res, err, c.requestId, state.draining || hasBody(c.req));
    if (err.status >= 500)
      logger.warn({ id: c.requestId, code: err.code, err: err.cause ?? err.message }, err.message);
    finish(c, err.status, err.status >= 500 ? err : undefined);
  }

  function ping(c: Ctx): void {
    const body = state.draining ? 'draining\n' : 'ok\n';
    c.res.writeHead(state.draining ? 503 : 200, {
      'content-type': 'text/plain',
      'content-length': body.length,
      'cache-control': 'no-store',
      ...(state.draining ? { connection: 'close' } : {}),
    });
    c.res.end(body);
    c.siteClass = 'local';
    finish(c, state.draining ? 503 : 200);
  }

  function requestBody(req: IncomingMessage) {
    if (!hasBody(req)) return null;
    return req.headers['content-length'] !== undefined
      ? req
      : Readable.from(limitBody(req, config.limits.maxBodyBytes));
  }

  function baseResponseHeaders(c: Ctx): string[] {
    return state.draining
      ? ['x-request-id', c.requestId, 'connection', 'close']
      : ['x-request-id', c.requestId];
  }

  return { finish, fail, ping, requestBody, baseResponseHeaders };
}
