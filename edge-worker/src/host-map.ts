/**
 * The host map: the part of the site registry the edge needs, published to KV as one JSON
 * document (key `hostmap`) and looked up per request. Building it is pure (Node, at publish time);
 * parsing and lookup are pure (workerd, per isolate).
 */
import type { Registry, SitePolicy } from '@wpfarm/common/registry/schema';
import { normaliseRequestHost } from '@wpfarm/common/registry/schema';

/** KV key of the host map document. */
export const HOST_MAP_KEY = 'hostmap';
export const HOST_MAP_FORMAT = 1;

/** One site as the edge sees it: no upstream, no secret reference. */
export interface EdgeSite {
  id: string;
  host: string;
  aliases: string[];
  policy: SitePolicy;
}

/** The JSON stored in KV. */
export interface HostMapDocument {
  format: typeof HOST_MAP_FORMAT;
  generatedAt: string;
  sites: EdgeSite[];
}

/** The parsed, indexed form the worker keeps in the isolate. */
export interface HostMap {
  generatedAt: string;
  byHost: Map<string, { site: EdgeSite; alias: boolean }>;
  byId: Map<string, EdgeSite>;
}

/** Builds the KV document from a validated registry (upstreams and secret refs stay private). */
export function buildHostMapDocument(registry: Registry, now = new Date()): HostMapDocument {
  return {
    format: HOST_MAP_FORMAT,
    generatedAt: now.toISOString(),
    sites: registry.sites.map((s) => ({
      id: s.id,
      host: s.host,
      aliases: [...s.aliases],
      policy: { ...s.policy, extraBypassCookies: [...s.policy.extraBypassCookies] },
    })),
  };
}

/**
 * Parses and indexes the KV document. The registry was validated when published, so this checks
 * only the shape the worker relies on and refuses anything else rather than guessing.
 * @throws Error describing the first shape problem.
 */
export function parseHostMap(text: string): HostMap {
  const doc = JSON.parse(text) as Partial<HostMapDocument>;
  if (doc?.format !== HOST_MAP_FORMAT) throw new Error(`format must be ${HOST_MAP_FORMAT}`);
  if (!Array.isArray(doc.sites)) throw new Error('sites must be a list');
  const byHost = new Map<string, { site: EdgeSite; alias: boolean }>();
  const byId = new Map<string, EdgeSite>();
  for (const [i, site] of doc.sites.entries()) {
    if (typeof site?.id !== 'string' || typeof site.host !== 'string' || !Array.isArray(site.aliases))
      throw new Error(`sites[${i}] must have id, host and aliases`);
    if (typeof site.policy !== 'object' || site.policy === null)
      throw new Error(`sites[${i}].policy is missing`);
    byId.set(site.id, site);
    byHost.set(site.host, { site, alias: false });
    for (const a of site.aliases) byHost.set(a, { site, alias: true });
  }
  return { generatedAt: String(doc.generatedAt ?? ''), byHost, byId };
}

export { normaliseRequestHost };

/** Where a request's host leads. */
export type HostRoute =
  | { kind: 'site'; site: EdgeSite; host: string }
  | { kind: 'redirect'; site: EdgeSite; host: string; location: string }
  | { kind: 'unknown'; host: string | undefined };

/** Resolves a request URL's host against the map, applying the site's alias policy. */
export function routeHost(map: HostMap, url: URL): HostRoute {
  const host = normaliseRequestHost(url.host);
  const entry = host ? map.byHost.get(host) : undefined;
  if (!host || !entry) return { kind: 'unknown', host };
  if (entry.alias && entry.site.policy.aliasMode === 'redirect') {
    const location = `${url.protocol}//${entry.site.host}${url.pathname}${url.search}`;
    return { kind: 'redirect', site: entry.site, host, location };
  }
  return { kind: 'site', site: entry.site, host };
}
