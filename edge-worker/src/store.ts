/**
 * KV reads, memoised in the isolate with a short TTL: the host map (one document) and each site's
 * purge state. Concurrent misses share one read; a failed refresh keeps the last good value.
 */
import { EdgeError } from './errors.ts';
import { HOST_MAP_KEY, type HostMap, parseHostMap } from './host-map.ts';
import { log } from './log.ts';
import { type PurgeState, parsePurgeState, purgeStateKey } from './purge-state.ts';

interface Memo<T> {
  at: number;
  value: T | undefined;
  pending: Promise<T> | undefined;
}

let hostMap: Memo<HostMap> = { at: 0, value: undefined, pending: undefined };
const purgeStates = new Map<string, Memo<PurgeState>>();

/** Forgets everything memoised (tests that swap the KV contents). */
export function resetMemo(): void {
  hostMap = { at: 0, value: undefined, pending: undefined };
  purgeStates.clear();
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

/**
 * The host map from KV.
 * @throws EdgeError HOST_MAP_MISSING / HOST_MAP_INVALID when there is no usable map at all.
 */
export function loadHostMap(kv: KVNamespace, ttlMs: number, now: number): Promise<HostMap> {
  return memoised(hostMap, ttlMs, now, async () => {
    const text = await kv.get(HOST_MAP_KEY);
    if (text === null)
      throw new EdgeError('HOST_MAP_MISSING', `KV key "${HOST_MAP_KEY}" is empty: publish the host map`);
    try {
      return parseHostMap(text);
    } catch (err) {
      log('error', 'host map invalid', { error: (err as Error).message });
      throw new EdgeError('HOST_MAP_INVALID', `KV key "${HOST_MAP_KEY}": ${(err as Error).message}`, {
        cause: err,
      });
    }
  });
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
    memo = { at: 0, value: undefined, pending: undefined };
    purgeStates.set(siteId, memo);
  }
  return memoised(memo, ttlMs, now, async () => parsePurgeState(await kv.get(purgeStateKey(siteId))));
}

/** Records a state this isolate just wrote, so its own next requests see the purge at once. */
export function rememberPurgeState(siteId: string, state: PurgeState, now: number): void {
  purgeStates.set(siteId, { at: now, value: state, pending: undefined });
}
