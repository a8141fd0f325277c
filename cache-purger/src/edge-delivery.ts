import { setTimeout as sleep } from 'node:timers/promises';
import { EDGE_PURGE_PATH, PURGE_LIMITS, type PurgeRequest } from '@wpfarm/common/contracts/purge';
import type { Registry } from '@wpfarm/common/registry/schema';
import type { Logger } from 'pino';
import {
  type CloudflareClient,
  type CloudflarePurgeBody,
  cloudflareCalls,
  type ZonePurge,
} from './cloudflare.ts';
import type { Config } from './config.ts';
import type { PurgerMetrics } from './metrics.ts';
import { backoffMs, coalesce, type SitePurge } from './plan.ts';
import { isNoGroup, KEYS, type Queue } from './queue.ts';
import { siteHosts } from './scope.ts';
import { withLinkedSpan } from './tracing.ts';

/**
 * The edge purge, after every Varnish node acknowledged a job (the last node's ack put it on
 * `purge:edge`): first the edge worker's purge endpoint, then Cloudflare's API when configured.
 * Purging the edge before Varnish would let the edge refill from a stale node.
 */
export interface EdgeDeliveryDeps {
  queue: Queue;
  registry: () => Registry;
  config: Config;
  logger: Logger;
  metrics: PurgerMetrics;
  cloudflare?: CloudflareClient;
}

export class EdgeDelivery {
  readonly #d: EdgeDeliveryDeps;
  #stopping = false;
  #wake = new AbortController();
  #loop: Promise<void> | undefined;
  constructor(deps: EdgeDeliveryDeps) {
    this.#d = deps;
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake.abort();
    await this.#loop;
  }

  async #pause(ms: number) {
    await sleep(ms, undefined, { signal: this.#wake.signal }).catch(() => {});
  }

  async #run(): Promise<void> {
    const { queue, config, logger } = this.#d;
    let ownPending = true;
    let lastClaim = 0;
    let errors = 0;
    let needGroup = true; // created once Redis answers, again after NOGROUP (see NodeWorker)
    while (!this.#stopping) {
      try {
        if (needGroup) {
          await queue.ensureGroup(KEYS.edge, KEYS.edgeGroup);
          needGroup = false;
        }
        let entries: { id: string; fields: Record<string, string> }[] = [];
        if (ownPending) {
          entries = await queue.read(KEYS.edge, KEYS.edgeGroup, config.consumer, config.batchSize, 0, '0');
          if (!entries.length) ownPending = false;
        }
        if (!entries.length && Date.now() - lastClaim >= config.claimIdleMs / 2) {
          lastClaim = Date.now();
          entries = await queue.autoclaim(
            KEYS.edge,
            KEYS.edgeGroup,
            config.consumer,
            config.claimIdleMs,
            config.batchSize,
          );
        }
        if (!entries.length)
          entries = await queue.read(KEYS.edge, KEYS.edgeGroup, config.consumer, config.batchSize, 1000);
        if (entries.length) await this.#deliver(entries);
        errors = 0;
      } catch (err) {
        ownPending = true;
        if (isNoGroup(err)) needGroup = true;
        errors++;
        logger.error({ err }, 'edge loop error (Redis?); retrying');
        await this.#pause(backoffMs(errors, config.retryBaseMs, config.retryMaxMs));
      }
    }
  }

  async #deliver(entries: { id: string; fields: Record<string, string> }[]): Promise<void> {
    const { queue, config, metrics } = this.#d;
    const refs = entries.map((e) => ({ id: e.id, job: e.fields.job ?? '' }));
    if (!config.edge && !this.#d.cloudflare) {
      await queue.ackEdge(refs, 'skipped');
      return;
    }
    const jobs = (await queue.jobs(refs.map((r) => r.job))).filter((j) => !!j);
    // No per-job URL limit here: the edge and Cloudflare take URLs in bulk, so only a site's own
    // `all: true` change purges a whole site there (plan.ts, Escalation).
    const purges = coalesce(jobs.map((j) => j.req));
    this.#escalations(purges);
    const edgeDone = new Set<number>(); // requests the edge worker already took, not re-sent on a retry
    const ok = await withLinkedSpan(
      'purge edge',
      jobs.map((j) => j.traceparent),
      { 'purge.jobs': jobs.length, 'purge.sites': purges.length },
      async () => {
        if (config.edge && !(await this.#untilDone(() => this.#edgeWorker(purges, edgeDone)))) return false;
        if (this.#d.cloudflare && !(await this.#cloudflare(purges))) return false;
        return true;
      },
    );
    if (!ok) return; // stopping: the entries stay pending for the next purger
    await queue.ackEdge(refs, 'done');
    const now = Date.now();
    for (const j of jobs) metrics.latency.observe({ node: 'edge' }, (now - j.acceptedAt) / 1000);
  }

  /** Counts and logs every whole-site purge of the window, per target, with its reason. */
  #escalations(purges: SitePurge[]): void {
    const { config, metrics, logger } = this.#d;
    for (const p of purges) {
      if (!p.all) continue;
      const targets = [
        ...(config.edge ? ['edge-worker'] : []),
        ...(this.#d.cloudflare?.zone(p.site) ? ['cloudflare'] : []),
      ];
      for (const target of targets) metrics.escalations.inc({ target, reason: p.reason });
      if (targets.length) logger.info({ site: p.site, reason: p.reason, targets }, 'whole-site edge purge');
    }
  }

  /** Retries `fn` with backoff until it succeeds or the purger stops. */
  async #untilDone(fn: () => Promise<boolean>): Promise<boolean> {
    const { config } = this.#d;
    for (let attempt = 0; ; attempt++) {
      if (await fn()) return true;
      if (this.#stopping) return false;
      await this.#pause(backoffMs(attempt, config.retryBaseMs, config.retryMaxMs));
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

  /**
   * Every call for every zone, each retried (429: after Retry-After) until done. Sites sharing a
   * zone share its calls: a backlog of many sites' URLs fills calls up to the per-call limit.
   */
  async #cloudflare(purges: SitePurge[]): Promise<boolean> {
    const { metrics, logger, config } = this.#d;
    const cf = this.#d.cloudflare!;
    const zones = new Map<string, ZonePurge>();
    for (const p of purges) {
      const zone = cf.zone(p.site);
      const site = this.#d.registry().byId.get(p.site);
      if (!zone || !site) continue;
      const z = zones.get(zone) ?? { hosts: [], files: [], tags: [] };
      zones.set(zone, z);
      if (p.all) z.hosts.push(...siteHosts(site));
      else {
        z.files.push(...p.urls);
        z.tags.push(...p.tags);
      }
    }
    const calls: { zone: string; body: CloudflarePurgeBody }[] = [];
    for (const [zone, z] of zones)
      for (const body of cloudflareCalls(z, cf.limits)) calls.push({ zone, body });
    for (const c of calls) {
      for (let attempt = 0; ; attempt++) {
        const r = await cf.call(c.zone, c.body);
        if (r.ok) {
          metrics.edge.inc({ target: 'cloudflare', result: 'ok' });
          break;
        }
        metrics.edge.inc({ target: 'cloudflare', result: r.retryAfterMs ? 'rate-limited' : 'failed' });
        if (r.permanent) {
          logger.error(
            { zone: c.zone, error: r.error },
            'cloudflare refused a purge call (400); not retried',
          );
          break;
        }
        if (this.#stopping) return false;
        const wait = r.retryAfterMs ?? backoffMs(attempt, config.retryBaseMs, config.retryMaxMs);
        if (!r.retryAfterMs)
          logger.warn({ zone: c.zone, error: r.error }, 'cloudflare purge failed; retrying');
        await this.#pause(wait);
      }
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
