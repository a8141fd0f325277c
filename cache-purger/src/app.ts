import { PURGE_LIMITS, validatePurgeRequest } from '@wpfarm/common/contracts/purge';
import { NONCE_HEADER, SIGNATURE_WINDOW_SECONDS, verifySignature } from '@wpfarm/common/contracts/signing';
import {
  CONNECTION_LIMIT_DEFAULTS,
  type ConnectionLimits,
  capConnections,
  timeoutOptions,
} from '@wpfarm/common/http-limits';
import { createServer } from '@wpfarm/common/node-http';
import type { Registry } from '@wpfarm/common/registry/schema';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Logger } from 'pino';
import { errorBody, PurgerError, toPurgerError } from './errors.ts';
import type { PurgerMetrics } from './metrics.ts';
import type { Queue } from './queue.ts';
import { checkScope } from './scope.ts';
import type { SiteSecrets } from './secrets.ts';

/**
 * The HTTP side: `POST /v1/purge` (signed webhook → durable job → 202), `GET /v1/jobs/:id`,
 * `/healthz`, `/metrics`. No delivery logic here: the workers read the queue.
 */
export interface AppDeps {
  queue: Queue;
  registry: () => Registry;
  secrets: SiteSecrets;
  metrics: PurgerMetrics;
  logger: Logger;
  /** Seconds WordPress should wait before retrying when Redis is unavailable. */
  retryAfterSeconds: number;
  /**
   * The intake connection for /healthz: ok when ready on a master; `state` is reported as is.
   * Default: ioredis' status of the queue's client (`ready` is ok).
   */
  redisState?: () => { ok: boolean; state: string };
  /** Injectable clock for signature windows (tests). */
  now?: () => number;
  /** Client connections: timeouts (a silent one is closed) and the cap. Default: the farm's. */
  connections?: ConnectionLimits;
}

// Fatal: a body that is not UTF-8 is refused, never decoded to U+FFFD (the signature covers the
// bytes, but the URLs and tags taken from them would not be the ones WordPress meant).
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Builds the Fastify app; the caller listens and closes it. */
export function buildApp(deps: AppDeps): { app: FastifyInstance; drain(): void } {
  const limits = deps.connections ?? CONNECTION_LIMIT_DEFAULTS;
  const app = Fastify({
    // node:http's own timeouts with a checking interval that follows them (Fastify's defaults
    // leave a connection that never sends a byte open for Node's 30 s check, and uncapped).
    serverFactory: (handler) => {
      const server = createServer(timeoutOptions(limits), handler);
      deps.metrics.watchConnections(capConnections(server, limits.maxConnections, () => refusedLog()));
      return server;
    },
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: PURGE_LIMITS.bodyBytes,
    // Per-request log lines would dominate at thousands of webhooks a second; metrics count them.
    logController: new LogController({ disableRequestLogging: true }),
    // Keep-alive connections from the WordPress fleet; closed on drain.
    forceCloseConnections: 'idle',
  });
  const now = deps.now ?? Date.now;
  let draining = false;
  // At most one line a minute while connections are refused at the cap (the metric counts each).
  let refusedLoggedAt = 0;
  const refusedLog = () => {
    if (Date.now() - refusedLoggedAt < 60_000) return;
    refusedLoggedAt = Date.now();
    deps.logger.warn({ max: limits.maxConnections }, 'connection cap reached: new connections are closed');
  };

  // The signature covers the exact bytes, so the body is kept raw and parsed here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err, req, reply) => {
    const e = toPurgerError(err);
    if (e.status >= 500 && e.code !== 'QUEUE_UNAVAILABLE' && e.code !== 'SHUTTING_DOWN')
      req.log.error({ err }, 'request failed');
    deps.metrics.webhooks.inc({ code: e.code });
    if (e.retryAfter) reply.header('retry-after', String(e.retryAfter));
    reply.status(e.status).send(errorBody(e));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send(errorBody(new PurgerError('NOT_FOUND', `no route for ${req.method} ${req.url}`)));
  });

  app.post('/v1/purge', async (req, reply) => {
    if (draining)
      throw new PurgerError('SHUTTING_DOWN', 'purger is shutting down; retry', {
        retryAfter: deps.retryAfterSeconds,
      });
    const raw = req.body as Buffer | undefined;
    if (!Buffer.isBuffer(raw))
      throw new PurgerError('UNSUPPORTED_MEDIA_TYPE', 'content-type must be application/json');
    let text: string;
    try {
      text = utf8.decode(raw);
    } catch (err) {
      throw new PurgerError('BAD_ENCODING', 'body is not valid UTF-8', { cause: err });
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new PurgerError('BAD_JSON', `body is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    // The site decides which secret verifies the signature, so it is read before verification
    // but nothing else is trusted until the signature holds.
    const siteId = (body as { site?: unknown } | null)?.site;
    const site = typeof siteId === 'string' ? deps.registry().byId.get(siteId) : undefined;
    if (!site) throw new PurgerError('UNKNOWN_SITE', 'site is not in the registry', { field: 'site' });
    const secrets = deps.secrets.get(site.id);
    if (secrets.length === 0)
      throw new PurgerError('SITE_SECRET_MISSING', `no webhook secret is configured for site "${site.id}"`);
    const sig = verifySignature(secrets, req.headers, raw, now());
    if (!sig.ok) throw new PurgerError('BAD_SIGNATURE', `signature ${sig.reason}`);

    const check = validatePurgeRequest(body);
    if (!check.ok) throw new PurgerError('BAD_REQUEST', check.message, { field: check.field });
    const scope = checkScope(site, check.value);
    if (!scope.ok) throw new PurgerError(scope.code, scope.message, { field: scope.field });

    const tp = req.headers.traceparent;
    let queued: Awaited<ReturnType<Queue['enqueue']>>;
    try {
      queued = await deps.queue.enqueue(
        check.value,
        sig.nonce,
        typeof tp === 'string' && tp.length <= 128 ? tp : undefined,
        // A nonce must be remembered as long as its timestamp can pass the window, either way.
        2 * SIGNATURE_WINDOW_SECONDS,
      );
    } catch (err) {
      throw new PurgerError('QUEUE_UNAVAILABLE', 'the purge queue is unavailable; retry later', {
        cause: err,
        retryAfter: deps.retryAfterSeconds,
      });
    }
    if (queued === undefined)
      throw new PurgerError('REPLAYED', `nonce already used (${NONCE_HEADER}); sign each webhook afresh`);
    const { id, duplicate } = queued;
    reply.status(202);
    if (duplicate) {
      // A retry of a change already accepted (its first answer was lost): the same job, not a new one.
      deps.metrics.webhooks.inc({ code: 'DUPLICATE_EVENT' });
      return { job: id, status: `/v1/jobs/${id}`, duplicate: true };
    }
    deps.metrics.webhooks.inc({ code: 'ACCEPTED' });
    return { job: id, status: `/v1/jobs/${id}` };
  });

  app.get<{ Params: { id: string } }>('/v1/jobs/:id', async (req) => {
    if (!/^\d{1,20}-\d{1,20}$/.test(req.params.id))
      throw new PurgerError('BAD_REQUEST', 'job id must look like 1700000000000-0', { field: 'id' });
    let h: Record<string, string> | undefined;
    try {
      h = await deps.queue.status(req.params.id);
    } catch (err) {
      throw new PurgerError('QUEUE_UNAVAILABLE', 'the purge queue is unavailable', {
        cause: err,
        retryAfter: deps.retryAfterSeconds,
      });
    }
    if (!h) throw new PurgerError('NOT_FOUND', 'no such job (unknown or expired)');
    const nodes: Record<string, string> = {};
    for (const [k, v] of Object.entries(h)) if (k.startsWith('node:')) nodes[k.slice(5)] = v;
    const total = Number(h.nodes);
    return {
      job: req.params.id,
      site: h.site,
      acceptedAt: new Date(Number(h.accepted)).toISOString(),
      nodes,
      nodesPending: Math.max(0, total - Object.keys(nodes).length),
      edge: h.edge,
      // Jobs accepted before Cloudflare had its own group carry no field of their own.
      cloudflare: h.cloudflare ?? h.edge,
    };
  });

  const redisState =
    deps.redisState ?? (() => ({ ok: deps.queue.redis.status === 'ready', state: deps.queue.redis.status }));
  app.get('/healthz', async (_req, reply) => {
    const redis = redisState();
    reply.status(redis.ok && !draining ? 200 : 503);
    return { ok: redis.ok && !draining, redis: redis.state, draining };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });

  return {
    app,
    drain: () => {
      draining = true;
    },
  };
}
