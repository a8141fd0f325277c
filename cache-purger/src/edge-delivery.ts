import { EDGE_PURGE_PATH, PURGE_LIMITS, type PurgeRequest } from '@wpfarm/common/contracts/purge';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { type EdgeEntry, EdgeLoop, type EdgeLoopControl } from './edge-loop.ts';
import type { PurgerMetrics } from './metrics.ts';
import { backoffMs, coalesce, type SitePurge } from './plan.ts';
import { KEYS, type Queue } from './queue.ts';
import { withLinkedSpan } from './tracing.ts';

/**
 * The edge worker's purge, after every Varnish node acknowledged a job (the last node's ack put it
 * on `purge:edge`; purging the edge before Varnish would let it refill from a stale node). Its
 * own consumer group (`edge`): Cloudflare's delivery (cloudflare-delivery.ts) reads the same
 * entries through its own group, so a Cloudflare bucket that is empty, slow or down never delays
 * the purge that makes a page fresh at the edge, nor the other way round.
 */
export interface EdgeDeliveryDeps {
  queue: Queue;
  config: Config;
  logger: Logger;
  metrics: PurgerMetrics;
}

export class EdgeWorkerDelivery extends EdgeLoop {
  readonly #d: EdgeDeliveryDeps;
  constructor(deps: EdgeDeliveryDeps) {
    super({ queue: deps.queue, group: KEYS.edgeGroup, config: deps.config, logger: deps.logger });
    this.#d = deps;
  }

  protected async deliver(refs: EdgeEntry[], ctl: EdgeLoopControl): Promise<void> {
    const { queue, config, metrics } = this.#d;
    if (!config.edge) {
      await queue.ackEdge(KEYS.edgeGroup, refs, 'skipped');
      return;
    }
    const jobs = (await queue.jobs(refs.map((r) => r.job))).filter((j) => !!j);
    // No per-job URL limit here: the edge takes URLs in bulk, so only a site's own `all: true`
    // change purges a whole site there (plan.ts, Escalation).
    const purges = coalesce(jobs.map((j) => j.req));
    this.#escalations(purges);
    const edgeDone = new Set<number>(); // requests the edge worker already took, not re-sent on a retry
    const ok = await withLinkedSpan(
      'purge edge',
      jobs.map((j) => j.traceparent),
      { 'purge.jobs': jobs.length, 'purge.sites': purges.length, 'purge.target': 'edge-worker' },
      async () => {
        for (let attempt = 0; ; attempt++) {
          if (await this.#edgeWorker(purges, edgeDone)) return true;
          if (ctl.stopping) return false;
          await ctl.pause(backoffMs(attempt, config.retryBaseMs, config.retryMaxMs));
        }
      },
    );
    if (!ok) return; // stopping: the entries stay pending for the next purger
    await queue.ackEdge(KEYS.edgeGroup, refs, 'done');
    const now = Date.now();
    for (const j of jobs) metrics.latency.observe({ node: 'edge-worker' }, (now - j.acceptedAt) / 1000);
  }

  /** Counts and logs every whole-site purge of the window at the edge worker, with its reason. */
  #escalations(purges: SitePurge[]): void {
    const { metrics, logger } = this.#d;
    for (const p of purges) {
      if (!p.all) continue;
      metrics.escalations.inc({ target: 'edge-worker', reason: p.reason });
      logger.info({ site: p.site, reason: p.reason, targets: ['edge-worker'] }, 'whole-site edge purge');
    }
  }

  async #edgeWorker(purges: SitePurge[], done: Set<number>): Promise<boolean> {
    const { config, metrics, logger } = this.#d;
    const edge = config.edge!;
    const bodies = edgeBodies(purges);
    for (const [i, body] of bodies.entries()) {
      if (done.has(i)) continue;
      try {
        const res = await fetch(`${edge.url}${EDGE_PURGE_PATH}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${edge.token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(config.requestTimeoutMs),
        });
        const text = await res.text();
        metrics.edge.inc({ target: 'edge-worker', result: res.ok ? 'ok' : 'failed' });
        if (edgeRefusalIsPermanent(res.status)) {
          // The edge refuses the request itself: no retry can succeed, and retrying would stall
          // every later edge purge. Logged and counted; the edge entries expire by their TTL.
          logger.error(
            { site: body.site, status: res.status, answer: text.slice(0, 300) },
            'edge refused a purge; not retried',
          );
        } else if (!res.ok) {
          logger.warn({ site: body.site, status: res.status }, 'edge purge failed; retrying');
          return false;
        }
        if (res.ok && !body.all && edgeEscalated(text)) {
          // The edge worker's own rule (its purge records overflowed: a version bump, the whole
          // site) widened a purge we sent as URLs and tags: counted and logged like ours.
          metrics.escalations.inc({ target: 'edge-worker', reason: 'edge-records' });
          logger.warn(
            {
              site: body.site,
              reason: 'edge-records',
              urls: body.urls?.length ?? 0,
              tags: body.tags?.length ?? 0,
            },
            'whole-site edge purge',
          );
        }
      } catch (err) {
        metrics.edge.inc({ target: 'edge-worker', result: 'failed' });
        logger.warn({ site: body.site, err: (err as Error).message }, 'edge purge failed; retrying');
        return false;
      }
      done.add(i);
    }
    return true;
  }
}

/**
 * The edge worker's requests for a window (pure): one per site, split where a merged site exceeds
 * the contract's limits per request (PURGE_LIMITS: 2,000 URLs, 500 tags).
 */
export function edgeBodies(purges: readonly SitePurge[]): PurgeRequest[] {
  const out: PurgeRequest[] = [];
  for (const p of purges) {
    if (p.all) {
      out.push({ site: p.site, all: true });
      continue;
    }
    for (let i = 0; i < p.urls.length; i += PURGE_LIMITS.urls)
      out.push({ site: p.site, urls: p.urls.slice(i, i + PURGE_LIMITS.urls) });
    for (let i = 0; i < p.tags.length; i += PURGE_LIMITS.tags)
      out.push({ site: p.site, tags: p.tags.slice(i, i + PURGE_LIMITS.tags) });
  }
  return out;
}

/** True when the edge worker answered that it purged the whole site instead (`escalated: true`). */
export function edgeEscalated(answer: string): boolean {
  try {
    return (JSON.parse(answer) as { escalated?: unknown } | null)?.escalated === true;
  } catch {
    return false;
  }
}

/**
 * True for edge answers no retry can change: a malformed or oversized body, or a site the edge
 * does not know. 401/403 are retried: they mean a token out of step, which an operator fixes,
 * and the purges must still reach the edge then.
 */
export function edgeRefusalIsPermanent(status: number): boolean {
  return status === 400 || status === 404 || status === 413 || status === 422;
}
