import type { Registry } from '@wpfarm/common/registry/schema';
import type { Logger } from 'pino';
import { type CloudflareClient, type CloudflarePurgeBody, cloudflareCalls } from './cloudflare.ts';
import type { Config } from './config.ts';
import { type EdgeEntry, EdgeLoop, type EdgeLoopControl } from './edge-loop.ts';
import type { PurgerMetrics } from './metrics.ts';
import { backoffMs, coalesce, type SitePurge } from './plan.ts';
import { KEYS, type Queue, type QueuedJob } from './queue.ts';
import { siteHosts } from './scope.ts';
import { withLinkedSpan } from './tracing.ts';

/** One call of a window: the zone and its body. */
export interface ZoneCall {
  zone: string;
  body: CloudflarePurgeBody;
}

/**
 * What Cloudflare still has to purge, per zone, across every job a delivery holds (pure). Jobs
 * merged in while the purger waits for Cloudflare's bucket join the same sets, so a backlog
 * becomes few full calls. An item leaves the window when a call carrying it succeeds; a job
 * merged in later that names it again puts it back (its page changed after that call).
 */
export class CloudflareWindow {
  readonly #zones = new Map<string, { hosts: Set<string>; tags: Set<string>; files: Set<string> }>();

  /**
   * Adds a set of site purges. Whole sites (`all`, a site's own change) become the site's hosts;
   * everything else stays the URLs and tags it is. Sites without a zone, or no longer in the
   * registry (`hostsOf` undefined), are left out. Returns the whole-site purges it added.
   */
  add(
    purges: readonly SitePurge[],
    zoneOf: (site: string) => string | undefined,
    hostsOf: (site: string) => readonly string[] | undefined,
  ): Extract<SitePurge, { all: true }>[] {
    const wide: Extract<SitePurge, { all: true }>[] = [];
    for (const p of purges) {
      const zone = zoneOf(p.site);
      const hosts = hostsOf(p.site);
      if (!zone || !hosts) continue;
      let z = this.#zones.get(zone);
      if (!z) {
        z = { hosts: new Set(), tags: new Set(), files: new Set() };
        this.#zones.set(zone, z);
      }
      if (p.all) {
        for (const h of hosts) z.hosts.add(h);
        wide.push(p);
      } else {
        for (const u of p.urls) z.files.add(u);
        for (const t of p.tags) z.tags.add(t);
      }
    }
    return wide;
  }

  /** The calls that purge what is left: per zone, hosts, then tags, then URLs, within the limits. */
  calls(limits: { urlsPerCall: number; maxOps: number }): ZoneCall[] {
    const out: ZoneCall[] = [];
    for (const [zone, z] of this.#zones)
      for (const body of cloudflareCalls(
        { hosts: [...z.hosts], tags: [...z.tags], files: [...z.files] },
        limits,
      ))
        out.push({ zone, body });
    return out;
  }

  /** Removes what a call purged (or what Cloudflare refused for good). */
  done(call: ZoneCall): void {
    const z = this.#zones.get(call.zone);
    if (!z) return;
    const [set, items] =
      'files' in call.body
        ? [z.files, call.body.files]
        : 'tags' in call.body
          ? [z.tags, call.body.tags]
          : [z.hosts, call.body.hosts];
    for (const i of items) set.delete(i);
    if (!z.hosts.size && !z.tags.size && !z.files.size) this.#zones.delete(call.zone);
  }

  /** Items (hosts, tags, URLs) still to purge. */
  get size(): number {
    let n = 0;
    for (const z of this.#zones.values()) n += z.hosts.size + z.tags.size + z.files.size;
    return n;
  }
}

/** Which of Cloudflare's buckets a call draws on: URLs for `files`, calls for hosts and tags. */
export const bucketOf = (body: CloudflarePurgeBody): 'urls' | 'calls' => ('files' in body ? 'urls' : 'calls');

/** Jobs one delivery holds at most while it waits for Cloudflare (PURGE_BATCH × this). */
const HOLD_BATCHES = 10;
/** While a bucket is empty, how often the held window takes in new jobs and tries the other bucket. */
const HOLD_POLL_MS = 1000;

export interface CloudflareDeliveryDeps {
  queue: Queue;
  registry: () => Registry;
  config: Config;
  logger: Logger;
  metrics: PurgerMetrics;
  /** Unset: Cloudflare is not configured, entries are acknowledged `skipped`. */
  cloudflare?: CloudflareClient;
}

/**
 * Cloudflare's purge, after every Varnish node acknowledged a job, through its own consumer group
 * (`cloudflare`) on `purge:edge`: the edge worker's delivery reads the same entries through its
 * group and never waits for this one. Cloudflare's limits (src/cloudflare.ts; free plan: a burst
 * of 25 calls, then 5 a minute) are honoured by waiting; while it waits, jobs that arrive are
 * merged into the same window (CloudflareWindow), so a backlog costs few calls and is never
 * purged wider than it is (docs/decisions/purger-escalation.md). The entries it holds stay
 * pending (acknowledged once every call of the window succeeded), so a crash loses nothing.
 */
export class CloudflareDelivery extends EdgeLoop {
  readonly #d: CloudflareDeliveryDeps;
  constructor(deps: CloudflareDeliveryDeps) {
    super({ queue: deps.queue, group: KEYS.cloudflareGroup, config: deps.config, logger: deps.logger });
    this.#d = deps;
  }

  protected async deliver(first: EdgeEntry[], ctl: EdgeLoopControl): Promise<void> {
    const { queue, config, metrics, logger } = this.#d;
    const cf = this.#d.cloudflare;
    if (!cf) {
      await queue.ackEdge(KEYS.cloudflareGroup, first, 'skipped');
      return;
    }
    const held: EdgeEntry[] = [];
    const jobs: QueuedJob[] = [];
    const window = new CloudflareWindow();
    const hostsOf = (site: string) => {
      const s = this.#d.registry().byId.get(site);
      return s ? siteHosts(s) : undefined;
    };
    const add = async (entries: EdgeEntry[]) => {
      held.push(...entries);
      const js = (await queue.jobs(entries.map((e) => e.job))).filter((j) => !!j);
      jobs.push(...js);
      // Judged per webhook, as everywhere (plan.ts, Escalation): only `all: true` is a whole site.
      for (const p of window.add(coalesce(js.map((j) => j.req)), (s) => cf.zone(s), hostsOf)) {
        metrics.escalations.inc({ target: 'cloudflare', reason: p.reason });
        logger.info({ site: p.site, reason: p.reason, targets: ['cloudflare'] }, 'whole-site edge purge');
      }
    };
    await add(first);
    let failures = 0;
    let limitedAt: number | undefined;
    let calls = 0;
    /** When each bucket may be tried again (ours or Cloudflare's Retry-After); the other still goes. */
    const limitedUntil = new Map<'urls' | 'calls', number>();
    for (;;) {
      const round = await withLinkedSpan(
        'purge cloudflare',
        jobs.map((j) => j.traceparent),
        { 'purge.jobs': jobs.length, 'purge.target': 'cloudflare' },
        () => this.#round(cf, window, limitedUntil),
      );
      calls += round.calls;
      if (round.failed) failures++;
      else if (round.calls) failures = 0;
      if (window.size === 0) break;
      if (ctl.stopping) return; // the entries stay pending for the next purger
      if (round.limited && limitedAt === undefined) {
        limitedAt = Date.now();
        logger.warn(
          { waitMs: round.limited.waitMs, by: round.limited.by, jobs: held.length, items: window.size },
          'cloudflare bucket empty: its purges wait, and what arrives meanwhile joins them (the edge worker does not wait)',
        );
      }
      // Wake at the next refill, or sooner (HOLD_POLL_MS) to send what arrived for the other bucket.
      const now = Date.now();
      const refill = Math.min(...[...limitedUntil.values()].filter((t) => t > now).map((t) => t - now));
      await ctl.pause(
        round.failed
          ? backoffMs(failures, config.retryBaseMs, config.retryMaxMs)
          : Math.min(refill, HOLD_POLL_MS),
      );
      if (ctl.stopping) return;
      const room = config.batchSize * HOLD_BATCHES - held.length;
      if (room > 0) await add(await ctl.more(Math.min(room, config.batchSize)));
    }
    await queue.ackEdge(KEYS.cloudflareGroup, held, 'done');
    const now = Date.now();
    for (const j of jobs) metrics.latency.observe({ node: 'cloudflare' }, (now - j.acceptedAt) / 1000);
    if (limitedAt !== undefined)
      logger.info(
        { waitedMs: now - limitedAt, jobs: held.length, calls },
        'cloudflare caught up after its bucket was empty',
      );
  }

  /**
   * One pass over the window's calls. A bucket that is empty (ours, or Cloudflare's 429 with
   * Retry-After) is not tried again before `limitedUntil`; calls on the other bucket still go. A
   * call that fails otherwise (timeout, 5xx) ends the round: Cloudflare is likely away.
   */
  async #round(
    cf: CloudflareClient,
    window: CloudflareWindow,
    limitedUntil: Map<'urls' | 'calls', number>,
  ): Promise<{ calls: number; failed: boolean; limited?: { waitMs: number; by: string } }> {
    const { metrics, logger } = this.#d;
    let limited: { waitMs: number; by: string } | undefined;
    let calls = 0;
    for (const c of window.calls(cf.limits)) {
      const bucket = bucketOf(c.body);
      if ((limitedUntil.get(bucket) ?? 0) > Date.now()) continue;
      const r = await cf.call(c.zone, c.body);
      if (r.ok) {
        metrics.edge.inc({ target: 'cloudflare', result: 'ok' });
        window.done(c);
        calls++;
        continue;
      }
      metrics.edge.inc({ target: 'cloudflare', result: r.retryAfterMs ? 'rate-limited' : 'failed' });
      if (r.permanent) {
        logger.error({ zone: c.zone, error: r.error }, 'cloudflare refused a purge call (400); not retried');
        window.done(c);
        continue;
      }
      if (r.retryAfterMs) {
        limitedUntil.set(bucket, Date.now() + r.retryAfterMs);
        limited ??= { waitMs: r.retryAfterMs, by: `${bucket} (${r.error})` };
        continue;
      }
      logger.warn({ zone: c.zone, error: r.error }, 'cloudflare purge failed; retrying');
      return { calls, failed: true, ...(limited ? { limited } : {}) };
    }
    return { calls, failed: false, ...(limited ? { limited } : {}) };
  }
}
