/**
 * The back route (Varnish's backend): site → maintenance page, or the site's WordPress upstream
 * behind a circuit breaker, with the site's freshness policy as response hints for the VCL.
 */
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { admit, type Breaker, newBreaker, record, release } from './circuit-breaker.ts';
import type { Config } from './config.ts';
import { forwardedFor } from './edge-auth.ts';
import { RouterError, upstreamError } from './errors.ts';
import type { Answers, Ctx } from './exchange.ts';
import { sendMaintenance } from './maintenance.ts';
import type { RouterMetrics } from './metrics.ts';
import { attempt, upstreamHeaders } from './proxy.ts';
import type { RegistryHolder } from './registry-watch.ts';
import { findSite, freshnessHints, siteClass } from './site-lookup.ts';
import { peerAttributes, type Tracing } from './tracing.ts';
import type { UpstreamAgent } from './upstream.ts';

export interface BackDeps {
  config: Config;
  holder: RegistryHolder;
  agent: UpstreamAgent;
  metrics: RouterMetrics;
  tracing: Tracing;
  logger: Logger;
  answers: Answers;
}

/** Creates the back role's route. */
export function createBackRoute(d: BackDeps): (c: Ctx) => void {
  const { config, holder, metrics, tracing, logger } = d;
  const { fail, ping, finish, requestBody, baseResponseHeaders } = d.answers;
  const agent = d.agent;
  const role = 'back';
  const breakers = new Map<string, Breaker>();

  function back(c: Ctx): void {
    const req = c.req;
    const h = req.headers;
    const entry = findSite(holder.current, h.host);
    if (entry === undefined && c.path === '/ping') {
      ping(c);
      return;
    }
    if (entry === undefined) {
      fail(c, new RouterError('UNKNOWN_HOST'));
      return;
    }
    const site = entry.site;
    c.siteClass = siteClass(site);
    c.span?.setAttribute('site.id', site.id);
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
        { ...peerAttributes(site.upstream), 'site.id': site.id },
        sent,
      );
    }
    const responseHeaders = baseResponseHeaders(c);
    responseHeaders.push(...freshnessHints(site));
    const b = breaker;
    attempt({
      pool: agent.pool(site.upstream),
      method: req.method ?? 'GET',
      path: c.path,
      headers: sent,
      body: requestBody(req),
      req,
      res: c.res,
      retryOn503: false,
      responseHeaders,
      done: (r) => {
        metrics.upstream('wordpress', 'none', (performance.now() - t0) / 1000);
        const healthy = r.outcome === 'ok' ? r.status < 502 || r.status > 504 : r.started;
        // A client that went away says nothing about the upstream: no verdict for the breaker.
        if (r.clientClosed) release(b);
        else if (record(b, config.back.breaker, healthy, Date.now())) {
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

  return back;
}
