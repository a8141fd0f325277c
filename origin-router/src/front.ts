/**
 * The front route: edge secret → site → the site's cache node by rendezvous hashing → Varnish,
 * retried once on the next node in the host's order (idempotent, body-less requests only).
 */

import type { Span } from '@opentelemetry/api';
import type { Config } from './config.ts';
import { clientAddress, clientAllowed, edgeVerified, forwardedFor } from './edge-auth.ts';
import { RouterError, upstreamError } from './errors.ts';
import type { Answers, Ctx } from './exchange.ts';
import { purgeRefusal } from './gate.ts';
import type { RouterMetrics } from './metrics.ts';
import type { CacheNodes } from './nodes.ts';
import { type AttemptResult, attempt, upstreamHeaders } from './proxy.ts';
import type { RegistryHolder } from './registry-watch.ts';
import { findSite, routingHost, siteClass, varnishHints } from './site-lookup.ts';
import { peerAttributes, type Tracing } from './tracing.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface FrontDeps {
  config: Config;
  holder: RegistryHolder;
  nodes: CacheNodes;
  metrics: RouterMetrics;
  tracing: Tracing;
  answers: Answers;
}

/** Creates the front role's route. */
export function createFrontRoute(d: FrontDeps): (c: Ctx) => void {
  const { config, holder, metrics, tracing } = d;
  const { fail, ping, finish, requestBody, baseResponseHeaders } = d.answers;
  const n = d.nodes;
  const role = 'front';

  /** Response headers of a front attempt: which cache node answered helps every debugging session. */
  function nodeHeaders(c: Ctx, node: string): string[] {
    const out = baseResponseHeaders(c);
    out.push('x-router-node', node);
    return out;
  }

  function front(c: Ctx): void {
    const req = c.req;
    const h = req.headers;
    const edgeOk = edgeVerified(h['x-edge-auth'], config.front.edgeKeys);
    const edgeHost = edgeOk ? h['x-edge-host'] : undefined;
    const entry = findSite(
      holder.current,
      routingHost(h.host, typeof edgeHost === 'string' ? edgeHost : undefined, edgeOk),
    );
    if (entry === undefined && c.path === '/ping') {
      ping(c);
      return;
    }
    if (!edgeOk) {
      fail(c, new RouterError('EDGE_AUTH_FAILED'));
      return;
    }
    const refused = purgeRefusal(req.method ?? '', req.rawHeaders);
    if (refused) {
      fail(c, refused);
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
    c.span?.setAttribute('site.id', site.id);
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
          { ...peerAttributes(node.origin), 'cache.node': node.cfg.id },
          sent,
        );
      }
      attempt({
        pool: node.pool,
        method,
        path: c.path,
        headers: sent,
        body,
        req,
        res: c.res,
        retryOn503: retryable && retriesLeft > 0,
        responseHeaders: nodeHeaders(c, node.cfg.id),
        done: (r: AttemptResult) => {
          // A client that went away is not the node's failure: no passive ejection for it. Nor is a
          // response the router refused (fails closed: 502 for this request, no retry elsewhere).
          const connFailure =
            r.outcome === 'error' &&
            r.status === 0 &&
            !r.clientClosed &&
            (r.error as { code?: string } | undefined)?.code !== 'UPSTREAM_BAD_RESPONSE';
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

  return front;
}
