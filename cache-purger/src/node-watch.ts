import type { Redis } from 'ioredis';
import { KEYS } from './queue.ts';

/**
 * Restart detection for one Varnish node (see README, "restart-time skipping"). Every probe reads
 * the node's identity (master + worker pid over the admin CLI). When it changed, the cache was
 * emptied at some moment after the previous identity was last seen, so every job accepted before
 * that moment is moot on this node: that time becomes the node's cutoff. Using the last-seen time
 * (not the detection time) never skips a job accepted after the restart. State lives in Redis so
 * a purger restart keeps it.
 */
export interface RestartWatch {
  /** Jobs accepted before this time (ms) need not be sent to the node; 0 = none. */
  cutoff(): number;
  /** Probes now (the worker asks before retrying, so a restart is seen before a resend). */
  refresh(): Promise<void>;
  stop(): void;
}

/** Pure: the new node state after a probe. */
export function nextNodeState(
  prev: { id?: string; seenAt?: number; cutoff?: number },
  identity: string,
  now: number,
): { id: string; seenAt: number; cutoff: number } {
  const changed = prev.id !== undefined && prev.id !== identity;
  return { id: identity, seenAt: now, cutoff: changed ? (prev.seenAt ?? 0) : (prev.cutoff ?? 0) };
}

/** Starts probing; the first probe runs at once. */
export function watchRestarts(
  redis: Redis,
  node: string,
  probe: () => Promise<string>,
  intervalMs: number,
  onChange: (cutoff: number) => void,
  onError: (err: Error) => void,
): RestartWatch {
  let cutoff = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let inflight: Promise<void> | undefined;
  const probeOnce = async () => {
    try {
      const identity = await probe();
      const raw = await redis.hgetall(KEYS.node(node));
      const prev = {
        id: raw.id,
        seenAt: raw.seenAt ? Number(raw.seenAt) : undefined,
        cutoff: raw.cutoff ? Number(raw.cutoff) : undefined,
      };
      const next = nextNodeState(prev, identity, Date.now());
      await redis.hset(KEYS.node(node), { id: next.id, seenAt: next.seenAt, cutoff: next.cutoff });
      if (next.cutoff !== cutoff) {
        cutoff = next.cutoff;
        if (prev.id !== undefined && prev.id !== identity) onChange(cutoff);
      }
    } catch (err) {
      onError(err as Error); // node down or Redis down: keep the last cutoff
    }
  };
  // One probe at a time; a refresh during a probe waits for it and probes again.
  const probe1 = async () => {
    while (inflight) await inflight;
    inflight = probeOnce().finally(() => {
      inflight = undefined;
    });
    await inflight;
  };
  const tick = async () => {
    await probe1();
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  void tick();
  return {
    cutoff: () => cutoff,
    refresh: probe1,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
