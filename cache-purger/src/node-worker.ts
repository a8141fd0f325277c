import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from '@wpfarm/common/registry/schema';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { PurgerMetrics } from './metrics.ts';
import type { RestartWatch } from './node-watch.ts';
import { backoffMs, coalesce, planVarnish } from './plan.ts';
import { idTime, isNoGroup, KEYS, type Queue, type QueuedJob, toJob } from './queue.ts';
import { withLinkedSpan } from './tracing.ts';
import type { VarnishClient } from './varnish-client.ts';

/**
 * Delivery to one Varnish node: reads the node's consumer group, waits one coalescing window,
 * plans the fewest requests, sends them until every one got a 200 (retrying with backoff), then
 * acknowledges. The node's cursor only moves on success, so a node that was down replays from its
 * own position; a purger that crashed leaves entries pending, which the next one reclaims.
 */
export interface NodeWorkerDeps {
  queue: Queue;
  client: VarnishClient;
  registry: () => Registry;
  config: Config;
  logger: Logger;
  metrics: PurgerMetrics;
  watch?: RestartWatch;
}

type Entry = { id: string; fields: Record<string, string> };

export class NodeWorker {
  readonly node: string;
  readonly #d: NodeWorkerDeps;
  #stopping = false;
  #wake = new AbortController();
  #loop: Promise<void> | undefined;
  constructor(deps: NodeWorkerDeps) {
    this.#d = deps;
    this.node = deps.client.node.name;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Stops reading; an in-flight delivery finishes its current attempt (acked if it succeeded). */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { queue, config, logger } = this.#d;
    const group = KEYS.group(this.node);
    let ownPending = true; // after a start or an error, first re-read what we hold unacknowledged
    let lastClaim = 0;
    let errors = 0;
    // The group is created here, not at start: Redis may not answer yet, and a Redis that came
    // back empty (NOGROUP) needs it again. From '0': it reads every entry still in the stream.
    let needGroup = true;
    while (!this.#stopping) {
      try {
        if (needGroup) {
          await queue.ensureGroup(KEYS.jobs, group);
          needGroup = false;
        }
        let entries: Entry[] = [];
        if (ownPending) {
          entries = await queue.read(KEYS.jobs, group, config.consumer, config.batchSize, 0, '0');
          if (entries.length === 0) ownPending = false;
        }
        if (entries.length === 0 && Date.now() - lastClaim >= config.claimIdleMs / 2) {
          lastClaim = Date.now();
          entries = await queue.autoclaim(
            KEYS.jobs,
            group,
            config.consumer,
            config.claimIdleMs,
            config.batchSize,
          );
          if (entries.length)
            logger.warn(
              { node: this.node, count: entries.length },
              'reclaimed pending entries of another purger',
            );
        }
        if (entries.length === 0) {
          entries = await queue.read(KEYS.jobs, group, config.consumer, config.batchSize, 1000);
          if (entries.length > 0 && entries.length < config.batchSize && config.coalesceMs > 0) {
            // The coalescing window, counted from when the oldest entry was accepted (it may have
            // waited already while the previous batch was delivered): whatever arrives in it is
            // merged into the same requests, and no job waits longer than the window to start.
            const waited = Date.now() - idTime(entries[0]!.id);
            const wait = Math.min(config.coalesceMs, Math.max(0, config.coalesceMs - waited));
            if (wait > 0) await sleep(wait);
            entries.push(
              ...(await queue.read(KEYS.jobs, group, config.consumer, config.batchSize - entries.length, 0)),
            );
          }
        }
        if (entries.length) await this.#deliver(entries);
        errors = 0;
      } catch (err) {
        ownPending = true;
        if (isNoGroup(err)) needGroup = true;
        errors++;
        logger.error({ node: this.node, err }, 'delivery loop error (Redis?); retrying');
        await this.#pause(backoffMs(errors, config.retryBaseMs, config.retryMaxMs));
      }
    }
  }

  async #pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.#wake.signal }).catch(() => {});
  }

  async #deliver(entries: Entry[]): Promise<void> {
    const { queue, client, config, logger, metrics } = this.#d;
    let cutoff = this.#d.watch?.cutoff() ?? 0;
    const results: { id: string; status: string }[] = [];
    let live: QueuedJob[] = [];
    for (const e of entries) {
      const job = toJob(e);
      if (!job) results.push({ id: e.id, status: 'invalid' });
      else live.push(job);
    }
    // Jobs accepted before the node's last restart are moot there: its cache was emptied since.
    const skipOlder = () => {
      const keep: QueuedJob[] = [];
      for (const j of live)
        if (j.acceptedAt < cutoff) {
          results.push({ id: j.id, status: 'skipped' });
          metrics.skipped.inc({ node: this.node });
        } else keep.push(j);
      live = keep;
    };
    skipOlder();
    const plan = () => {
      const purges = coalesce(
        live.map((j) => j.req),
        { maxJobUrls: config.maxJobUrls },
      );
      return { purges, ops: planVarnish(purges, this.#d.registry(), config) };
    };
    const first = plan();
    let ops = first.ops;
    // Every whole-host ban is counted and logged with its rule's reason, once per delivery.
    for (const p of first.purges)
      if (p.all) {
        metrics.escalations.inc({ target: 'varnish', reason: p.reason });
        logger.info(
          {
            node: this.node,
            site: p.site,
            reason: p.reason,
            jobs: live.filter((j) => j.req.site === p.site).length,
          },
          'whole-host ban',
        );
      }
    const refusedSites = new Set<string>();
    const delivered = await withLinkedSpan(
      'purge varnish',
      live.map((j) => j.traceparent),
      { 'purge.node': this.node, 'purge.jobs': live.length, 'purge.requests': ops.length },
      async (span) => {
        for (let attempt = 0; ops.length > 0; attempt++) {
          const res = await client.send(ops);
          for (const r of res)
            metrics.requests.inc({ node: this.node, kind: r.op.kind, result: r.ok ? 'ok' : 'failed' });
          // A 400 means Varnish refused the request itself: retrying cannot help, and retrying
          // forever would stall this node's queue behind one bad entry. Its site's jobs are
          // recorded as failed for this node (and counted), the rest go on.
          for (const r of res)
            if (!r.ok && r.status === 400) {
              refusedSites.add(r.op.site);
              logger.error(
                { node: this.node, site: r.op.site, op: r.op },
                'Varnish refused a purge request (400); not retried',
              );
            }
          const notOk = res.filter((r) => !r.ok).length;
          if (notOk) metrics.failures.inc({ node: this.node }, notOk);
          const failed = res.filter((r) => !r.ok && r.status !== 400);
          if (failed.length === 0) return true;
          span.addEvent('retry', { failed: failed.length, attempt });
          if (this.#stopping) return false; // leave the entries pending for the next purger
          metrics.retries.inc({ node: this.node });
          const wait = backoffMs(attempt, config.retryBaseMs, config.retryMaxMs);
          logger.warn(
            {
              node: this.node,
              failed: failed.length,
              first: failed[0]?.status ?? failed[0]?.error,
              retryInMs: wait,
            },
            'purge requests failed; retrying',
          );
          await this.#pause(wait);
          ops = failed.map((r) => r.op);
          await this.#d.watch?.refresh();
          const now = this.#d.watch?.cutoff() ?? 0;
          if (now !== cutoff) {
            // The node restarted while we retried: what it took before is gone with its cache, so
            // the jobs still due get all their requests again, and the older ones none.
            cutoff = now;
            skipOlder();
            ops = plan().ops;
          }
        }
        return true;
      },
    );
    if (!delivered) return;
    for (const j of live)
      results.push({ id: j.id, status: refusedSites.has(j.req.site) ? 'failed' : 'done' });
    await queue.ackNode(this.node, results);
    const now = Date.now();
    for (const j of live) metrics.latency.observe({ node: this.node }, (now - j.acceptedAt) / 1000);
  }
}
