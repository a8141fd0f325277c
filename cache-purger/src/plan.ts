import { type PurgeRequest, purgeUrlParts } from '@wpfarm/common/contracts/purge';
import type { Registry } from '@wpfarm/common/registry/schema';
import { siteHosts } from './scope.ts';

/**
 * Purge planning (pure): turns a window of queued jobs into the fewest Varnish requests.
 * Per site, URL and tag sets are merged; a site-wide purge absorbs everything else of that site;
 * more than `maxUrlsPerSite` URLs become a site-wide ban (a bulk edit must not turn into
 * thousands of bans that the lurker has to test against every object).
 */

/**
 * One request to one Varnish node. Bans test only obj.http.x-host / x-url (lurker-friendly).
 * `site` says whose purge it serves (a request never mixes sites).
 */
export type VarnishOp =
  | { kind: 'ban'; site: string; host: string; url?: string }
  | { kind: 'xkey'; site: string; keys: string[]; soft: boolean };

export interface PlanOptions {
  maxUrlsPerSite: number;
  xkeyBatch: number;
  softPurge: boolean;
}

/** What one site asks for after merging its jobs. */
export interface SitePurge {
  site: string;
  all: boolean;
  urls: string[];
  tags: string[];
}

/** Merges requests per site (order of first appearance kept) and applies the site-wide rules. */
export function coalesce(requests: readonly PurgeRequest[], maxUrlsPerSite: number): SitePurge[] {
  const bySite = new Map<string, { all: boolean; urls: Set<string>; tags: Set<string> }>();
  for (const r of requests) {
    let s = bySite.get(r.site);
    if (!s) {
      s = { all: false, urls: new Set(), tags: new Set() };
      bySite.set(r.site, s);
    }
    if (r.all) s.all = true;
    for (const u of r.urls ?? []) s.urls.add(u);
    for (const t of r.tags ?? []) s.tags.add(t);
  }
  const out: SitePurge[] = [];
  for (const [site, s] of bySite) {
    const all = s.all || s.urls.size > maxUrlsPerSite;
    out.push(
      all
        ? { site, all: true, urls: [], tags: [] }
        : { site, all: false, urls: [...s.urls], tags: [...s.tags] },
    );
  }
  return out;
}

/** The Varnish requests for a set of site purges; hosts come from the registry for site-wide bans. */
export function planVarnish(
  purges: readonly SitePurge[],
  registry: Registry,
  opts: PlanOptions,
): VarnishOp[] {
  const ops: VarnishOp[] = [];
  for (const p of purges) {
    if (p.all) {
      const site = registry.byId.get(p.site);
      // A site removed from the registry since the job was queued: nothing of it is cached any more
      // under a host we know, so there is nothing to ban.
      for (const host of site ? siteHosts(site) : []) ops.push({ kind: 'ban', site: p.site, host });
      continue;
    }
    const seen = new Set<string>();
    for (const u of p.urls) {
      const { host, url } = purgeUrlParts(u);
      const key = `${host} ${url}`;
      if (seen.has(key)) continue;
      seen.add(key);
      ops.push({ kind: 'ban', site: p.site, host, url });
    }
    for (let i = 0; i < p.tags.length; i += opts.xkeyBatch)
      ops.push({
        kind: 'xkey',
        site: p.site,
        keys: p.tags.slice(i, i + opts.xkeyBatch),
        soft: opts.softPurge,
      });
  }
  return ops;
}

/**
 * Exponential backoff with "equal jitter": half the capped delay plus a random half, so retries
 * against a dead node spread out but never collapse to a hot loop.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(cap / 2 + (random() * cap) / 2);
}
