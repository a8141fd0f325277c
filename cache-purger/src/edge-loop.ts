import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Config } from './config.ts';
import { backoffMs } from './plan.ts';
import { isNoGroup, KEYS, type Queue } from './queue.ts';

/** An entry of `purge:edge`: its stream id and the job it stands for. */
export interface EdgeEntry {
  id: string;
  job: string;
}

/** What a delivery may ask of the loop that handed it entries. */
export interface EdgeLoopControl {
  /** True once the purger stops: a delivery returns without acknowledging (the entries stay pending). */
  readonly stopping: boolean;
  /** Sleeps `ms`, woken early by stop(); keeps the held entries this consumer's meanwhile. */
  pause(ms: number): Promise<void>;
  /** Entries that arrived since (non-blocking, at most `count`), to merge into a delivery that waits. */
  more(count: number): Promise<EdgeEntry[]>;
}

export interface EdgeLoopDeps {
  queue: Queue;
  group: typeof KEYS.edgeGroup | typeof KEYS.cloudflareGroup;
  config: Config;
  logger: Logger;
}

/**
 * One consumer group's loop on `purge:edge`, extended by each target's delivery (the edge
 * worker's, Cloudflare's: each implements deliver()). Its own pending entries first (after a
 * restart with the same consumer name), then entries another purger left pending past
 * PURGE_CLAIM_IDLE_MS (XAUTOCLAIM), then new ones. Each group has its own connection
 * (blocking reads hold it), cursor and pending list, so one target waiting never holds the other.
 */
export abstract class EdgeLoop {
  readonly #d: EdgeLoopDeps;
  #stopping = false;
  #wake = new AbortController();
  #loop: Promise<void> | undefined;
  /** Entries handed to the delivery in progress (kept ours while it waits). */
  #held: string[] = [];
  #keptAt = 0;
  constructor(deps: EdgeLoopDeps) {
    this.#d = deps;
  }

  /** One target's delivery: acknowledges the entries it completed (or leaves them pending). */
  protected abstract deliver(entries: EdgeEntry[], ctl: EdgeLoopControl): Promise<void>;

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#wake.abort();
    await this.#loop;
  }

  async #sleep(ms: number) {
    await sleep(ms, undefined, { signal: this.#wake.signal }).catch(() => {});
  }

  /** The control handed to each delivery. */
  #control(): EdgeLoopControl {
    const { queue, config, group, logger } = this.#d;
    const loop = this;
    return {
      get stopping() {
        return loop.#stopping;
      },
      async pause(ms) {
        // A delivery may wait minutes (Cloudflare's free plan refills 5 calls a minute): reset the
        // entries' idle time well before PURGE_CLAIM_IDLE_MS so no other purger claims them.
        if (Date.now() - loop.#keptAt >= config.claimIdleMs / 3) {
          loop.#keptAt = Date.now();
          await queue
            .keep(KEYS.edge, group, config.consumer, loop.#held)
            .catch((err) =>
              logger.debug({ group, err: (err as Error).message }, 'keeping held entries failed'),
            );
        }
        await loop.#sleep(ms);
      },
      async more(count) {
        const got = toEdgeEntries(await queue.read(KEYS.edge, group, config.consumer, count, 0));
        for (const e of got) loop.#held.push(e.id);
        return got;
      },
    };
  }

  async #run(): Promise<void> {
    const { queue, config, logger, group } = this.#d;
    const ctl = this.#control();
    let ownPending = true;
    let lastClaim = 0;
    let errors = 0;
    let needGroup = true; // created once Redis answers, again after NOGROUP (see NodeWorker)
    while (!this.#stopping) {
      try {
        if (needGroup) {
          await queue.ensureGroup(KEYS.edge, group);
          needGroup = false;
        }
        let entries: { id: string; fields: Record<string, string> }[] = [];
        if (ownPending) {
          entries = await queue.read(KEYS.edge, group, config.consumer, config.batchSize, 0, '0');
          if (!entries.length) ownPending = false;
        }
        if (!entries.length && Date.now() - lastClaim >= config.claimIdleMs / 2) {
          lastClaim = Date.now();
          entries = await queue.autoclaim(
            KEYS.edge,
            group,
            config.consumer,
            config.claimIdleMs,
            config.batchSize,
          );
          if (entries.length)
            logger.info(
              { group, entries: entries.length },
              'reclaimed pending edge entries of another purger',
            );
        }
        if (!entries.length)
          entries = await queue.read(KEYS.edge, group, config.consumer, config.batchSize, 1000);
        if (entries.length) {
          const batch = toEdgeEntries(entries);
          this.#held = batch.map((e) => e.id);
          this.#keptAt = Date.now();
          await this.deliver(batch, ctl);
          this.#held = [];
        }
        errors = 0;
      } catch (err) {
        this.#held = [];
        ownPending = true;
        if (isNoGroup(err)) needGroup = true;
        errors++;
        logger.error({ err, group }, 'edge loop error (Redis?); retrying');
        await this.#sleep(backoffMs(errors, config.retryBaseMs, config.retryMaxMs));
      }
    }
  }
}

function toEdgeEntries(entries: { id: string; fields: Record<string, string> }[]): EdgeEntry[] {
  return entries.map((e) => ({ id: e.id, job: e.fields.job ?? '' }));
}
