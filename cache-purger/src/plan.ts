import { type PurgeRequest, purgeUrlParts } from '@wpfarm/common/contracts/purge';
import type { Registry } from '@wpfarm/common/registry/schema';
import { siteHosts } from './scope.ts';

/**
 * Purge planning (pure): turns a window of queued jobs into the fewest Varnish requests.
 * Per site, URL and tag sets are merged, and delivered as the URLs and tags they are however many
 * jobs the window holds: a backlog (a node that was away, a burst of webhooks) is never a reason
 * to purge wider. A purge covers a whole site only by the escalation rule below, which looks at
 * one job at a time (see docs/decisions/purger-escalation.md).
 */

/**
 * Why a site's purge covers the whole site instead of the URLs and tags it holds:
 * - `site-change`: one of its webhooks asked for it (`all: true`: a theme switch, a setting that
 *   changes every page). Every target (Varnish, edge worker, Cloudflare) purges the whole site.
 * - `job-urls`: one webhook named more than `maxJobUrls` URLs (a bulk change the site made in one
 *   request). Varnish only: one ban per host instead of thousands of bans its lurker must test
 *   against every object; the edge and Cloudflare still get the URLs.
 */
export type Escalation = 'site-change' | 'job-urls';

/**
 * Escalations the purger does not decide but reports: `edge-records`, the edge worker answered
 * `escalated: true` (its own purge records overflowed and it bumped the site's version).
 */
export type ReportedEscalation = Escalation | 'edge-records';

export interface CoalesceOptions {
  /** Varnish only: a single job naming more URLs than this bans its site's hosts. Unset: never. */
  maxJobUrls?: number;
}

/**
 * One request to one Varnish node. Bans test only obj.http.x-host / x-url (lurker-friendly).
 * `site` says whose purge it serves (a request never mixes sites).
 */
export type VarnishOp =
  | { kind: 'ban'; site: string; host: string; url?: string }
  | { kind: 'xkey'; site: string; keys: string[]; soft: boolean };

export interface PlanOptions {
  xkeyBatch: number;
  softPurge: boolean;
}

/** What one site asks for after merging its jobs; `reason` says why a purge is site-wide. */
export type SitePurge =
  | { site: string; all: false; urls: string[]; tags: string[] }
  | { site: string; all: true; reason: Escalation; urls: []; tags: [] };

/**
 * Merges requests per site (order of first appearance kept). A site's purge is site-wide only
 * when one of its requests is, by itself, an escalation (`Escalation`); the number of requests,
 * or of URLs they add up to, never makes it so.
 */
export function coalesce(requests: readonly PurgeRequest[], opts: CoalesceOptions = {}): SitePurge[] {
  const bySite = new Map<string, { reason?: Escalation; urls: Set<string>; tags: Set<string> }>();
  for (const r of requests) {
    let s = bySite.get(r.site);
    if (!s) {
      s = { urls: new Set(), tags: new Set() };
      bySite.set(r.site, s);
    }
    if (r.all) s.reason = 'site-change';
    else if (opts.maxJobUrls !== undefined && (r.urls?.length ?? 0) > opts.maxJobUrls)
      s.reason ??= 'job-urls';
    for (const u of r.urls ?? []) s.urls.add(u);
    for (const t of r.tags ?? []) s.tags.add(t);
  }
  const out: SitePurge[] = [];
  for (const [site, s] of bySite)
    out.push(
      s.reason
        ? { site, all: true, reason: s.reason, urls: [], tags: [] }
        : { site, all: false, urls: [...s.urls], tags: [...s.tags] },
    );
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
