/**
 * The host map: the part of the site registry the edge needs, published to KV and looked up per
 * request. Building it is pure (Node, at publish time); parsing and lookup are pure (workerd, per
 * isolate). Two layouts:
 *
 * - the document (format 1, key `hostmap`): every site in one JSON value. At 5,000 sites it is
 *   1.8 MB that a cold isolate reads and parses whole before its first answer (about 20 ms of CPU,
 *   bench/results/scale.json), and at 50,000 about 18 MB: near KV's 25 MiB value limit and far
 *   past a cold start's budget.
 * - sharded documents (format 2): a small index (`hostmap/index`: the shard count) and documents
 *   of about HOSTS_PER_SHARD hosts each, keyed by a hash of the host (`hostmap/<count>/host/<n>`),
 *   plus the same sites sharded by id for lookups by site (`hostmap/<count>/site/<n>`). A cold
 *   isolate reads the index and one shard: a cost that does not grow with the farm. Unknown hosts
 *   are answered from the shard already read (no KV read per random host, unlike per-host keys),
 *   and the count is in the key so a publish that changes it never mixes two layouts.
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

/** Format of the sharded layout's index and shards. */
export const HOST_MAP_SHARDED_FORMAT = 2;
/** KV key of the sharded layout's index. */
export const HOST_MAP_INDEX_KEY = 'hostmap/index';
/**
 * Hosts per shard the publisher aims at: about 30 KB of JSON, parsed in well under a millisecond,
 * so a cold isolate's host map costs the same at 50 sites and at 50,000 (bench: scale).
 */
export const HOSTS_PER_SHARD = 64;

/** The sharded layout's index: how many shards of each kind to hash into. */
export interface HostMapIndex {
  format: typeof HOST_MAP_SHARDED_FORMAT;
  generatedAt: string;
  shards: number;
}

/** One shard: the sites of the hosts (or ids) that hash into it, and which hosts are aliases. */
export interface HostMapShard {
  format: typeof HOST_MAP_SHARDED_FORMAT;
  generatedAt: string;
  /** Host → [index into `sites`, 1 when an alias]; empty in site shards. */
  hosts: Record<string, [number, 0 | 1]>;
  sites: EdgeSite[];
}

/** FNV-1a (32 bits) of a string's UTF-16 units: cheap, stable, and the same in Node and workerd. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shard (0 … count-1) a normalised host or a site id hashes into. */
export function shardOf(name: string, count: number): number {
  return fnv1a(name) % count;
}

/** KV key of a host shard or a site shard for a given shard count. */
export function hostMapShardKey(kind: 'host' | 'site', count: number, shard: number): string {
  return `hostmap/${count}/${kind}/${shard}`;
}

/** Shards for a number of hosts: a power of two giving at most HOSTS_PER_SHARD hosts on average. */
export function shardCount(hosts: number, perShard = HOSTS_PER_SHARD): number {
  let n = 1;
  while (n * perShard < hosts) n *= 2;
  return n;
}

/** Builds the sharded layout from a validated registry: the index and every shard by KV key. */
export function buildHostMapShards(
  registry: Registry,
  now = new Date(),
  perShard = HOSTS_PER_SHARD,
): { index: HostMapIndex; shards: Map<string, HostMapShard> } {
  const doc = buildHostMapDocument(registry, now);
  const hosts = doc.sites.reduce((n, s) => n + 1 + s.aliases.length, 0);
  const count = shardCount(hosts, perShard);
  const generatedAt = doc.generatedAt;
  const empty = (): HostMapShard => ({ format: HOST_MAP_SHARDED_FORMAT, generatedAt, hosts: {}, sites: [] });
  const hostShards = Array.from({ length: count }, empty);
  const siteShards = Array.from({ length: count }, empty);
  for (const site of doc.sites) {
    siteShards[shardOf(site.id, count)]!.sites.push(site);
    for (const [host, alias] of [[site.host, 0] as const, ...site.aliases.map((a) => [a, 1] as const)]) {
      const shard = hostShards[shardOf(host, count)]!;
      // A site whose hosts share a shard is stored there once.
      let at = shard.sites.lastIndexOf(site);
      if (at === -1) at = shard.sites.push(site) - 1;
      shard.hosts[host] = [at, alias];
    }
  }
  const shards = new Map<string, HostMapShard>();
  for (const [i, s] of hostShards.entries()) shards.set(hostMapShardKey('host', count, i), s);
  for (const [i, s] of siteShards.entries()) shards.set(hostMapShardKey('site', count, i), s);
  return { index: { format: HOST_MAP_SHARDED_FORMAT, generatedAt, shards: count }, shards };
}

/**
 * Parses the sharded layout's index.
 * @throws Error describing the first shape problem.
 */
export function parseHostMapIndex(text: string): HostMapIndex {
  const doc = JSON.parse(text) as Partial<HostMapIndex>;
  if (doc?.format !== HOST_MAP_SHARDED_FORMAT) throw new Error(`format must be ${HOST_MAP_SHARDED_FORMAT}`);
  if (!Number.isInteger(doc.shards) || (doc.shards as number) < 1)
    throw new Error('shards must be a positive integer');
  return { format: HOST_MAP_SHARDED_FORMAT, generatedAt: String(doc.generatedAt ?? ''), shards: doc.shards! };
}

/**
 * Parses one shard into the same HostMap a whole document gives (holding only that shard's hosts
 * and sites), so routeHost and lookups by id work unchanged on it.
 * @throws Error describing the first shape problem.
 */
export function parseHostMapShard(text: string): HostMap {
  const doc = JSON.parse(text) as Partial<HostMapShard>;
  if (doc?.format !== HOST_MAP_SHARDED_FORMAT) throw new Error(`format must be ${HOST_MAP_SHARDED_FORMAT}`);
  if (!Array.isArray(doc.sites)) throw new Error('sites must be a list');
  if (typeof doc.hosts !== 'object' || doc.hosts === null) throw new Error('hosts must be a mapping');
  const byId = new Map<string, EdgeSite>();
  for (const [i, site] of doc.sites.entries()) {
    if (typeof site?.id !== 'string' || typeof site.host !== 'string' || !Array.isArray(site.aliases))
      throw new Error(`sites[${i}] must have id, host and aliases`);
    if (typeof site.policy !== 'object' || site.policy === null)
      throw new Error(`sites[${i}].policy is missing`);
    byId.set(site.id, site);
  }
  const byHost = new Map<string, { site: EdgeSite; alias: boolean }>();
  for (const [host, ref] of Object.entries(doc.hosts)) {
    const site = Array.isArray(ref) ? doc.sites[ref[0]] : undefined;
    if (!site) throw new Error(`hosts["${host}"] must name one of the shard's sites`);
    byHost.set(host, { site, alias: ref[1] === 1 });
  }
  return { generatedAt: String(doc.generatedAt ?? ''), byHost, byId };
}

/** Where a request's host leads. */
export type HostRoute =
  | { kind: 'site'; site: EdgeSite; host: string }
  | { kind: 'redirect'; site: EdgeSite; host: string; location: string }
  | { kind: 'unknown'; host: string | undefined };

/** Resolves a request URL's host against the map, applying the site's alias policy. */
export function routeHost(map: HostMap, url: URL): HostRoute {
  return routeHostIn(() => map, url);
}

/**
 * routeHost over a map chosen by the normalised host (the sharded layout: the host's shard),
 * normalising the host once; `mapFor` returning undefined routes the host as unknown.
 */
export function routeHostIn(mapFor: (host: string) => HostMap | undefined, url: URL): HostRoute {
  const host = normaliseRequestHost(url.host);
  return routeNormalisedHost(host ? mapFor(host) : undefined, host, url);
}

/**
 * routeHost for a host the caller already normalised (normaliseRequestHost of `url.host`) and
 * the map that holds it, read asynchronously (the worker's store); undefined routes as unknown.
 */
export function routeNormalisedHost(map: HostMap | undefined, host: string | undefined, url: URL): HostRoute {
  const entry = host ? map?.byHost.get(host) : undefined;
  if (!host || !entry) return { kind: 'unknown', host };
  if (entry.alias && entry.site.policy.aliasMode === 'redirect') {
    const location = `${url.protocol}//${entry.site.host}${url.pathname}${url.search}`;
    return { kind: 'redirect', site: entry.site, host, location };
  }
  return { kind: 'site', site: entry.site, host };
}
