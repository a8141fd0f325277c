import { type PurgeRequest, purgeUrlParts } from '@wpfarm/common/contracts/purge';
import type { Site } from '@wpfarm/common/registry/schema';

/**
 * Site scoping (pure): a site may purge only URLs on its own hosts (canonical or alias) and only
 * tags carrying its own prefix (`<site id>-`), so one compromised WordPress cannot purge another.
 */
export type ScopeCheck =
  | { ok: true }
  | { ok: false; code: 'FORBIDDEN_HOST' | 'FORBIDDEN_TAG'; field: string; message: string };

/** The prefix every tag of a site carries, e.g. `alpha-`. */
export const tagPrefix = (siteId: string): string => `${siteId}-`;

/** All hosts of a site, canonical first. */
export const siteHosts = (site: Site): string[] => [site.host, ...site.aliases];

/** Checks that every URL and tag of a validated request belongs to `site`. */
export function checkScope(site: Site, req: PurgeRequest): ScopeCheck {
  const hosts = new Set(siteHosts(site));
  for (const [i, u] of (req.urls ?? []).entries()) {
    const { host } = purgeUrlParts(u);
    if (!hosts.has(host))
      return {
        ok: false,
        code: 'FORBIDDEN_HOST',
        field: `urls[${i}]`,
        message: `host "${host}" is not a host of site "${site.id}"`,
      };
  }
  const prefix = tagPrefix(site.id);
  for (const [i, t] of (req.tags ?? []).entries()) {
    if (!t.startsWith(prefix) || t.length === prefix.length)
      return {
        ok: false,
        code: 'FORBIDDEN_TAG',
        field: `tags[${i}]`,
        message: `tag "${t}" does not carry the prefix "${prefix}"`,
      };
  }
  return { ok: true };
}
