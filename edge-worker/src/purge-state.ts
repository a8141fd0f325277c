/**
 * Per-site purge state, one KV value per site (`purge:<site>`): the site's cache version (folded
 * into every key, so a site-wide purge is one write) and the times URL and tag purges happened.
 * An entry stored at or before a purge of its page or of one of its tags counts as a miss. Pure.
 * See docs/decisions/edge-purge.md for why tags work this way.
 */

export interface PurgeState {
  /** Cache version of the site; bumping it orphans every entry of the site at once. */
  v: number;
  /** Tag → epoch ms of its last purge. */
  tags: Record<string, number>;
  /** Page key (`/path?query`) → epoch ms of its last purge. */
  urls: Record<string, number>;
}

/** Tags plus pages remembered per site; beyond this a purge becomes a site-wide version bump. */
export const MAX_PURGE_ENTRIES = 4_000;

/** KV key of a site's purge state. */
export const purgeStateKey = (siteId: string): string => `purge:${siteId}`;

/** An empty state: version 0, nothing purged. */
export const emptyPurgeState = (): PurgeState => ({ v: 0, tags: {}, urls: {} });

/** Parses a stored state; a missing or corrupt value is the empty state (fail towards serving). */
export function parsePurgeState(text: string | null): PurgeState {
  if (!text) return emptyPurgeState();
  try {
    const s = JSON.parse(text) as Partial<PurgeState>;
    return {
      v: Number.isInteger(s.v) && (s.v as number) >= 0 ? (s.v as number) : 0,
      tags: typeof s.tags === 'object' && s.tags !== null ? s.tags : {},
      urls: typeof s.urls === 'object' && s.urls !== null ? s.urls : {},
    };
  } catch {
    return emptyPurgeState();
  }
}

export interface PurgeChange {
  all?: boolean;
  pages?: readonly string[];
  tags?: readonly string[];
}

export interface PurgeOutcome {
  state: PurgeState;
  /** True when the remembered entries overflowed and the purge became a version bump. */
  escalated: boolean;
}

/**
 * Applies a purge at `now`. Records older than `maxLifetimeMs` (the longest any entry of the site
 * may live: ttl + max(swr, sie)) are dropped, since nothing stored before them can still exist.
 */
export function applyPurge(
  prev: PurgeState,
  change: PurgeChange,
  now: number,
  maxLifetimeMs: number,
): PurgeOutcome {
  if (change.all) return { state: { v: prev.v + 1, tags: {}, urls: {} }, escalated: false };
  const horizon = now - maxLifetimeMs;
  const keep = (rec: Record<string, number>) =>
    Object.fromEntries(Object.entries(rec).filter(([, at]) => typeof at === 'number' && at >= horizon));
  const tags = keep(prev.tags);
  const urls = keep(prev.urls);
  for (const t of change.tags ?? []) tags[t] = now;
  for (const p of change.pages ?? []) urls[p] = now;
  if (Object.keys(tags).length + Object.keys(urls).length > MAX_PURGE_ENTRIES)
    return { state: { v: prev.v + 1, tags: {}, urls: {} }, escalated: true };
  return { state: { v: prev.v, tags, urls }, escalated: false };
}

/** True when an entry stored at `storedAt` for `page` with `tags` was purged since. */
export function entryPurged(
  state: PurgeState,
  page: string,
  tags: readonly string[],
  storedAt: number,
): boolean {
  const at = state.urls[page];
  if (at !== undefined && storedAt <= at) return true;
  for (const t of tags) {
    const tagAt = state.tags[t];
    if (tagAt !== undefined && storedAt <= tagAt) return true;
  }
  return false;
}
