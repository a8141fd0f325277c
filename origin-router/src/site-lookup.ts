/**
 * Host → site over the current registry, and the per-site hints the front router hands to
 * Varnish (the VCL cannot read the registry). Pure.
 */
import { type HostEntry, lookupHost, type Registry, type Site } from '@wpfarm/common/registry/schema';

/**
 * The host to route on: the edge's `x-edge-host` when the edge secret verified and the header is
 * present, else the request's `Host`.
 */
export function routingHost(
  host: string | undefined,
  edgeHost: string | undefined,
  edgeVerified: boolean,
): string | undefined {
  return edgeVerified && edgeHost ? edgeHost : host;
}

/** The registry entry for a raw host (port and case ignored), or undefined. */
export function findSite(registry: Registry, host: string | undefined): HostEntry | undefined {
  return lookupHost(registry, host);
}

/** A low-cardinality label for metrics: never the site id (500+ series per metric otherwise). */
export type SiteClass = 'standard' | 'woocommerce' | 'maintenance' | 'unknown' | 'local';

/** The metrics class of a site. */
export function siteClass(site: Site | undefined): SiteClass {
  if (!site) return 'unknown';
  if (site.policy.maintenance) return 'maintenance';
  return site.policy.woocommerce ? 'woocommerce' : 'standard';
}

/** True when `cookieHeader` holds a cookie whose name starts with one of `prefixes`. */
export function hasCookiePrefix(cookieHeader: string | undefined, prefixes: readonly string[]): boolean {
  if (!cookieHeader || prefixes.length === 0) return false;
  for (const part of cookieHeader.split(';')) {
    const name = part.trimStart();
    for (const p of prefixes) if (name.startsWith(p)) return true;
  }
  return false;
}

/**
 * The x-farm-* request hints for Varnish (see infra/varnish/cache-rules.vcl), as a flat
 * [name, value, ...] list appended to the upstream headers.
 */
export function varnishHints(site: Site, cookieHeader: string | undefined, out: string[]): void {
  const p = site.policy;
  if (p.woocommerce) out.push('x-farm-woocommerce', '1');
  if (p.restApiCache) out.push('x-farm-rest-cache', '1');
  if (hasCookiePrefix(cookieHeader, p.extraBypassCookies)) out.push('x-farm-bypass', '1');
}

/** The x-farm-* response hints the back router gives Varnish for the site's freshness policy. */
export function freshnessHints(site: Site): string[] {
  const p = site.policy;
  return [
    'x-farm-ttl',
    String(p.htmlTtl),
    'x-farm-swr',
    String(p.staleWhileRevalidate),
    'x-farm-sie',
    String(p.staleIfError),
    'x-farm-short-ttl',
    String(p.shortTtl),
  ];
}
