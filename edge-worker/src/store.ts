/**
 * KV reads, memoised in the isolate with a short TTL: the host map and each site's purge state.
 * Concurrent misses share one read; a failed refresh keeps the last good value.
 *
 * The host map is read in whichever layout KV holds (host-map.ts): when `hostmap/index` exists,
 * the index and then only the one shard a host (or a site id) hashes into; otherwise the whole
 * `hostmap` document, as before the sharded layout (a deployment mid-migration).
 */
import { EdgeError } from './errors.ts';
import {
  HOST_MAP_INDEX_KEY,
  HOST_MAP_KEY,
  type HostMap,
  type HostMapIndex,
  hostMapShardKey,
  parseHostMap,
  parseHostMapIndex,
  parseHostMapShard,
  shardOf,
} from './host-map.ts';
import { log } from './log.ts';
import { type PurgeState, parsePurgeState, purgeStateKey } from './purge-state.ts';

interface Memo<T> {
  at: number;
  value: T | undefined;
  pending: Promise<T> | undefined;
}

const newMemo = <T>(): Memo<T> => ({ at: 0, value: undefined, pending: undefined });

/** The host map as KV holds it: the whole document, or the sharded layout's index. */
export type StoredHostMap = { kind: 'document'; map: HostMap } | { kind: 'sharded'; index: HostMapIndex };

/**
 * Shards memoised at most (host and site shards together), least recently used evicted first.
 * A parsed shard of ~64 hosts holds about 15 KB of heap, so this caps them near 8 MB of the
 * isolate's 128 MB whatever hosts a flood of random `Host` headers names. 512 covers every host
 * shard up to ~30,000 hosts (about 12,000 sites); a larger farm's isolate re-reads an evicted
 * shard from KV instead of growing.
 */
export const SHARD_MEMO_LIMIT = 512;

let layout: Memo<StoredHostMap> = newMemo();
/** Shard memos by KV key, in least-recently-used order (a Map iterates in insertion order). */
const shards = new Map<string, Memo<HostMap>>();
/** The shard count `shards` belongs to: a republished index with another count empties it. */
let shardsOfCount = 0;
const purgeStates = new Map<string, Memo<PurgeState>>();

/** Forgets everything memoised (tests that swap the KV contents). */
export function resetMemo(): void {
  layout = newMemo();
  shards.clear();
  shardsOfCount = 0;
  purgeStates.clear();
}

/** How many host map shards this isolate holds (tests of the memo's bound). */
export function memoisedShardCount(): number {
  return shards.size;
}

/**
 * Serves the memoised value while it is younger than `ttlMs`. Past that, the first caller starts
 * one reload and every caller keeps getting the old value until it lands (requests never wait on
 * KV once a value exists); a failed reload keeps the old value. Only a cold isolate waits.
 */
function memoised<T>(memo: Memo<T>, ttlMs: number, now: number, load: () => Promise<T>): Promise<T> {
  if (memo.value !== undefined && now - memo.at < ttlMs) return Promise.resolve(memo.value);
  if (!memo.pending) {
    memo.pending = load()
      .then((v) => {
        memo.value = v;
        memo.at = now;
        return v;
      })
      .finally(() => {
        memo.pending = undefined;
      });
    // Without a waiter the rejection is handled here; callers with no value still see it.
    memo.pending.catch((err) =>
      log('warn', 'KV reload failed; keeping the last value', { error: String(err) }),
    );
  }
  if (memo.value === undefined) return memo.pending;
  return Promise.resolve(memo.value);
}

/** Parses one host map value, turning a shape problem into HOST_MAP_INVALID naming the key. */
function parsed<T>(key: string, text: string, parse: (text: string) => T): T {
  try {
    return parse(text);
  } catch (err) {
    log('error', 'host map invalid', { key, error: (err as Error).message });
    throw new EdgeError('HOST_MAP_INVALID', `KV key "${key}": ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The host map's layout from KV: the sharded index when there is one, else the whole document.
 * @throws EdgeError HOST_MAP_MISSING / HOST_MAP_INVALID when there is no usable map at all.
 */
export function loadStoredHostMap(kv: KVNamespace, ttlMs: number, now: number): Promise<StoredHostMap> {
  return memoised(layout, ttlMs, now, async () => {
    const index = await kv.get(HOST_MAP_INDEX_KEY);
    if (index !== null)
      return { kind: 'sharded', index: parsed(HOST_MAP_INDEX_KEY, index, parseHostMapIndex) };
    const text = await kv.get(HOST_MAP_KEY);
    if (text === null)
      throw new EdgeError(
        'HOST_MAP_MISSING',
        `KV keys "${HOST_MAP_INDEX_KEY}" and "${HOST_MAP_KEY}" are empty: publish the host map`,
      );
    return { kind: 'document', map: parsed(HOST_MAP_KEY, text, parseHostMap) };
  });
}

/**
 * The part of the host map that holds `name` (a normalised host, or a site id): the whole
 * document, or the one host or site shard it hashes into under the current index. Unknown names
 * are answered from that shard: a random host costs at most one read per shard and TTL.
 * @throws EdgeError HOST_MAP_MISSING / HOST_MAP_INVALID when that part cannot be read at all.
 */
export async function loadHostMapFor(
  kv: KVNamespace,
  kind: 'host' | 'site',
  name: string,
  ttlMs: number,
  now: number,
): Promise<HostMap> {
  const stored = await loadStoredHostMap(kv, ttlMs, now);
  if (stored.kind === 'document') return stored.map;
  const count = stored.index.shards;
  // Keys carry the count; memos of another count are another publish's, never read again.
  if (count !== shardsOfCount) {
    shards.clear();
    shardsOfCount = count;
  }
  const key = hostMapShardKey(kind, count, shardOf(name, count));
  let memo = shards.get(key);
  if (memo) shards.delete(key);
  else {
    memo = newMemo();
    const oldest = shards.keys().next();
    if (shards.size >= SHARD_MEMO_LIMIT && !oldest.done) shards.delete(oldest.value);
  }
  shards.set(key, memo);
  return memoised(memo, ttlMs, now, async () => {
    const text = await kv.get(key);
    // The publisher writes every shard before the index naming them.
    if (text === null)
      throw new EdgeError('HOST_MAP_MISSING', `KV key "${key}" is empty: publish the host map again`);
    return parsed(key, text, parseHostMapShard);
  });
}

/**
 * What the health answer may say about the host map without reading every shard: the layout,
 * the site count (document) or the shard count (sharded), and when it was generated.
 */
export function describeHostMap(stored: StoredHostMap): Record<string, string | number> {
  if (stored.kind === 'document')
    return { layout: 'document', sites: stored.map.byId.size, hostMapGeneratedAt: stored.map.generatedAt };
  return { layout: 'sharded', shards: stored.index.shards, hostMapGeneratedAt: stored.index.generatedAt };
}

/** A site's purge state from KV (empty when never purged). */
export function loadPurgeState(
  kv: KVNamespace,
  siteId: string,
  ttlMs: number,
  now: number,
): Promise<PurgeState> {
  let memo = purgeStates.get(siteId);
  if (!memo) {
    memo = newMemo();
    purgeStates.set(siteId, memo);
  }
  return memoised(memo, ttlMs, now, async () => parsePurgeState(await kv.get(purgeStateKey(siteId))));
}

/** Records a state this isolate just wrote, so its own next requests see the purge at once. */
export function rememberPurgeState(siteId: string, state: PurgeState, now: number): void {
  purgeStates.set(siteId, { at: now, value: state, pending: undefined });
}
