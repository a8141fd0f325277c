import type { PurgeRequest } from '@wpfarm/common/contracts/purge';
import type { Redis } from 'ioredis';

/**
 * The durable queue in Redis (see docs/decisions/purger-redis-streams.md):
 * - `purge:jobs`, one stream of accepted jobs; one consumer group per Varnish node (`node:<name>`),
 *   so each node has its own cursor and its own pending list;
 * - `purge:edge`, jobs every node has acknowledged, consumed by two groups, each with its own cursor
 *   and pending list: `edge` (the edge worker's purge) and `cloudflare` (Cloudflare's API), so
 *   one target that is slow, rate-limited or down never holds the other back;
 * - `purge:job:<id>`, a hash with the job and its per-node / edge status (TTL);
 * - `purge:nonce:<site>:<nonce>`, replay protection (SET NX EX);
 * - `purge:event:<site>:<event>`, the job id a WordPress change was first accepted as (24 h), so
 *   its retries are answered with that job instead of being queued again;
 * - `purge:node:<name>`, a node's identity, when it was last seen, and its restart cutoff.
 * Multi-key changes are Lua scripts, so a crash never leaves a job half-acknowledged.
 */
export const KEYS = Object.freeze({
  jobs: 'purge:jobs',
  edge: 'purge:edge',
  edgeGroup: 'edge',
  cloudflareGroup: 'cloudflare',
  job: (id: string) => `purge:job:${id}`,
  nonce: (site: string, nonce: string) => `purge:nonce:${site}:${nonce}`,
  event: (site: string, event: string) => `purge:event:${site}:${event}`,
  node: (name: string) => `purge:node:${name}`,
  group: (node: string) => `node:${node}`,
});

/** One stream entry as the workers see it. */
export interface QueuedJob {
  id: string;
  /** Milliseconds since the epoch when the job was accepted (the stream id's time part). */
  acceptedAt: number;
  req: PurgeRequest;
  traceparent: string | undefined;
}

/** How long a (site, event) is remembered: a WordPress change is retried for less than a day. */
export const EVENT_TTL_SECONDS = 86_400;

// KEYS: nonce, jobs stream, event (the nonce key again when there is no event).
// ARGV: nonceTtl, body, site, traceparent, jobTtl, acceptedAtMs, nodeCount, eventTtl (0: no event).
// Returns false when the nonce was seen (replay), else { job id, 1 when the event was accepted
// before (nothing queued) or 0 }. The nonce and the event are remembered only in the same atomic
// step that stores the job (or finds the first one), so a crash can never remember one without
// the other.
const ENQUEUE = `
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) == false then return false end
if ARGV[8] ~= '0' then
  local first = redis.call('GET', KEYS[3])
  if first then return { first, 1 } end
end
local id = redis.call('XADD', KEYS[2], '*', 'site', ARGV[3], 'body', ARGV[2], 'tp', ARGV[4])
local job = 'purge:job:' .. id
redis.call('HSET', job, 'site', ARGV[3], 'body', ARGV[2], 'tp', ARGV[4], 'accepted', ARGV[6], 'nodes', ARGV[7], 'acked', 0, 'edge', 'waiting', 'cloudflare', 'waiting')
redis.call('EXPIRE', job, ARGV[5])
if ARGV[8] ~= '0' then redis.call('SET', KEYS[3], id, 'EX', ARGV[8]) end
return { id, 0 }
`;

// KEYS: jobs stream, edge stream. ARGV: group, node, nodeCount, then (id, status) pairs.
// XACKs each entry, records the node's status once, and hands the job to the edge stream when the
// last node acknowledged it.
const ACK = `
local n = 0
for i = 4, #ARGV, 2 do
  local id, status = ARGV[i], ARGV[i + 1]
  redis.call('XACK', KEYS[1], ARGV[1], id)
  local job = 'purge:job:' .. id
  -- An expired job hash is not recreated (it would live forever without its TTL).
  if redis.call('EXISTS', job) == 1 and redis.call('HSETNX', job, 'node:' .. ARGV[2], status) == 1 then
    local acked = redis.call('HINCRBY', job, 'acked', 1)
    if acked >= tonumber(ARGV[3]) then
      redis.call('XADD', KEYS[2], '*', 'job', id)
    end
  end
  n = n + 1
end
return n
`;

// KEYS: edge stream. ARGV: group, status, then ids (job ids), each after an edge stream id. The
// group names the job's status field (`edge` for the edge worker, `cloudflare`).
const EDGE_ACK = `
for i = 3, #ARGV, 2 do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  local job = 'purge:job:' .. ARGV[i + 1]
  if redis.call('EXISTS', job) == 1 then redis.call('HSET', job, ARGV[1], ARGV[2]) end
end
return 1
`;

/** Parses `[id, [k, v, ...]]` stream entries. */
export function parseEntries(raw: unknown): { id: string; fields: Record<string, string> }[] {
  const out: { id: string; fields: Record<string, string> }[] = [];
  for (const item of (raw as [string, string[] | null][] | null) ?? []) {
    const [id, flat] = item;
    if (!flat) continue; // deleted entry (trimmed while pending)
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    out.push({ id, fields });
  }
  return out;
}

/** True for Redis' NOGROUP error: the stream or the consumer group does not exist (any more). */
export const isNoGroup = (err: unknown): boolean => /^NOGROUP\b/.test(String((err as Error)?.message));

/** Milliseconds part of a stream id. */
export const idTime = (id: string): number => Number(id.split('-')[0]);

/** Compares two stream ids numerically. */
export function compareIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number) as [number, number];
  const [bm, bs] = b.split('-').map(Number) as [number, number];
  return am - bm || as - bs;
}

export function toJob(e: { id: string; fields: Record<string, string> }): QueuedJob | undefined {
  try {
    const req = JSON.parse(e.fields.body ?? '') as PurgeRequest;
    return { id: e.id, acceptedAt: idTime(e.id), req, traceparent: e.fields.tp || undefined };
  } catch {
    return undefined;
  }
}

/** The queue operations the app and the workers use; all take the ioredis client they are given. */
export class Queue {
  readonly redis: Redis;
  readonly nodeCount: number;
  readonly jobTtlSeconds: number;
  constructor(redis: Redis, nodeCount: number, jobTtlSeconds: number) {
    this.redis = redis;
    this.nodeCount = nodeCount;
    this.jobTtlSeconds = jobTtlSeconds;
  }

  /**
   * Stores a job durably; resolves to its id, or undefined when the nonce is a replay. A request
   * with an `event` already accepted within EVENT_TTL_SECONDS resolves to the first job's id with
   * `duplicate: true`, and nothing is queued.
   */
  async enqueue(
    req: PurgeRequest,
    nonce: string,
    traceparent: string | undefined,
    nonceTtl: number,
  ): Promise<{ id: string; duplicate: boolean } | undefined> {
    const nonceKey = KEYS.nonce(req.site, nonce);
    const res = (await this.redis.eval(
      ENQUEUE,
      3,
      nonceKey,
      KEYS.jobs,
      req.event ? KEYS.event(req.site, req.event) : nonceKey,
      nonceTtl,
      JSON.stringify(req),
      req.site,
      traceparent ?? '',
      this.jobTtlSeconds,
      Date.now(),
      this.nodeCount,
      req.event ? EVENT_TTL_SECONDS : 0,
    )) as [string, number] | null;
    return Array.isArray(res) ? { id: String(res[0]), duplicate: Number(res[1]) === 1 } : undefined;
  }

  /** Creates a consumer group from the start of the stream unless it exists. */
  async ensureGroup(stream: string, group: string): Promise<void> {
    try {
      await this.redis.call('XGROUP', 'CREATE', stream, group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  /** Reads new entries (`>`) or this consumer's own pending ones (`0`). */
  async read(stream: string, group: string, consumer: string, count: number, blockMs: number, from = '>') {
    const args: (string | number)[] = ['GROUP', group, consumer, 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    args.push('STREAMS', stream, from);
    const res = (await this.redis.call('XREADGROUP', ...args)) as [string, unknown][] | null;
    return parseEntries(res?.[0]?.[1] ?? []);
  }

  /** Takes over entries another (crashed) consumer left pending longer than `minIdleMs`. */
  async autoclaim(stream: string, group: string, consumer: string, minIdleMs: number, count: number) {
    const res = (await this.redis.call(
      'XAUTOCLAIM',
      stream,
      group,
      consumer,
      minIdleMs,
      '0-0',
      'COUNT',
      count,
    )) as [string, unknown];
    return parseEntries(res[1]);
  }

  /**
   * Keeps entries this consumer holds while a delivery waits (a rate limit, a target that is
   * down): resets their idle time, so another purger's XAUTOCLAIM does not take them and deliver
   * them a second time. Entries no longer pending (acknowledged elsewhere) are left alone.
   */
  async keep(stream: string, group: string, consumer: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.redis.call('XCLAIM', stream, group, consumer, 0, ...ids, 'JUSTID');
  }

  /** Acknowledges a node's entries with their status; the last node's ack queues the edge purge. */
  async ackNode(node: string, results: { id: string; status: string }[]): Promise<void> {
    if (results.length === 0) return;
    await this.redis.eval(
      ACK,
      2,
      KEYS.jobs,
      KEYS.edge,
      KEYS.group(node),
      node,
      this.nodeCount,
      ...results.flatMap((r) => [r.id, r.status]),
    );
  }

  /**
   * Acknowledges edge entries for one group (`edge` or `cloudflare`) and records that target's
   * status on their jobs.
   */
  async ackEdge(
    group: typeof KEYS.edgeGroup | typeof KEYS.cloudflareGroup,
    entries: { id: string; job: string }[],
    status: string,
  ): Promise<void> {
    if (entries.length === 0) return;
    await this.redis.eval(EDGE_ACK, 1, KEYS.edge, group, status, ...entries.flatMap((e) => [e.id, e.job]));
  }

  /** The job hashes for edge entries (body, site, traceparent); missing ones (expired) are skipped. */
  async jobs(ids: string[]): Promise<(QueuedJob | undefined)[]> {
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(KEYS.job(id));
    const res = (await pipe.exec()) ?? [];
    return res.map(([err, h], i) => {
      const hash = h as Record<string, string> | null;
      if (err || !hash?.body) return undefined;
      return toJob({ id: ids[i]!, fields: hash });
    });
  }

  /** A job's status hash, or undefined when unknown or expired. */
  async status(id: string): Promise<Record<string, string> | undefined> {
    const h = await this.redis.hgetall(KEYS.job(id));
    return h && Object.keys(h).length ? h : undefined;
  }

  /**
   * Per group: entries not yet acknowledged (pending + not yet delivered) and the age of the oldest.
   * Redis 7 reports `lag` in XINFO GROUPS; the oldest is the first pending id or the next undelivered.
   */
  async backlog(stream: string, group: string): Promise<{ depth: number; oldestMs: number }> {
    const groups = (await this.redis.call('XINFO', 'GROUPS', stream)) as unknown[][];
    const info = groups.map(pairsToObject).find((g) => g.name === group);
    if (!info) return { depth: 0, oldestMs: 0 };
    const pending = Number(info.pending ?? 0);
    const lag = info.lag === null || info.lag === undefined ? 0 : Number(info.lag);
    let oldestId: string | undefined;
    if (pending > 0) {
      const summary = (await this.redis.call('XPENDING', stream, group)) as [number, string, string, unknown];
      oldestId = summary[1];
    } else if (lag > 0) {
      const next = (await this.redis.call(
        'XRANGE',
        stream,
        `(${info['last-delivered-id']}`,
        '+',
        'COUNT',
        1,
      )) as [string, unknown][];
      oldestId = next[0]?.[0];
    }
    return { depth: pending + lag, oldestMs: oldestId ? Math.max(0, Date.now() - idTime(oldestId)) : 0 };
  }

  /**
   * Trims a stream below the oldest entry any group still needs (its first pending entry, or the
   * entry after its cursor), so a node that is down keeps its backlog and nothing else piles up.
   * Not at all while one of `required` is missing (Redis came back empty and that node's worker
   * has not recreated its group yet): the group will start from the stream's first entry.
   */
  async trim(stream: string, required: readonly string[], approximate = true): Promise<void> {
    const groups = ((await this.redis.call('XINFO', 'GROUPS', stream)) as unknown[][]).map(pairsToObject);
    if (groups.length === 0) return;
    const present = new Set(groups.map((g) => String(g.name)));
    if (required.some((g) => !present.has(g))) return;
    let min: string | undefined;
    for (const g of groups) {
      let need: string;
      if (Number(g.pending ?? 0) > 0) {
        const summary = (await this.redis.call('XPENDING', stream, String(g.name))) as [number, string];
        need = summary[1];
      } else {
        const [ms, seq] = String(g['last-delivered-id']).split('-').map(Number) as [number, number];
        need = `${ms}-${seq + 1}`;
      }
      if (!min || compareIds(need, min) < 0) min = need;
    }
    // `~` lets Redis drop whole internal nodes only: cheap, and it never trims past `min`.
    if (min) await this.redis.call('XTRIM', stream, 'MINID', ...(approximate ? ['~'] : []), min);
  }
}

function pairsToObject(flat: unknown[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) o[String(flat[i])] = flat[i + 1];
  return o;
}
