import { REGISTRY_LIMITS, type Registry, validateRegistry } from '@wpfarm/common/registry/schema';
/**
 * Generated site registries for the scale benchmark: `n` sites with 0–3 aliases each (1.5 on
 * average, as the sample registry has) and policies mixed as a farm's are (a fifth WooCommerce,
 * half serving their aliases, some with XML-RPC, a cached REST API, device variants, extra bypass
 * cookies, shorter TTLs). Deterministic: the same `n` gives the same registry.
 */
export interface ScaleSite {
  id: string;
  host: string;
  aliases: string[];
  upstream: string;
  webhookSecretRef: string;
  policy: Record<string, unknown>;
}

/** The registry document (validated by common's schema when loaded) for `n` sites. */
export function scaleRegistry(n: number, upstream = (id: string) => `http://wp-${id}_nginx:80`) {
  const sites: ScaleSite[] = [];
  for (let i = 0; i < n; i++) {
    const id = `site-${i}`;
    const host = `${id}.farm.example`;
    const policy: Record<string, unknown> = { aliasMode: i % 2 ? 'serve' : 'redirect' };
    if (i % 5 === 0) Object.assign(policy, { woocommerce: true, htmlTtl: 120, deviceVariants: true });
    if (i % 7 === 0) Object.assign(policy, { xmlrpc: true, restApiCache: true, htmlTtl: 60 });
    if (i % 11 === 0) policy.extraBypassCookies = ['pmpro_visit', 'wordpress_memberships_'];
    sites.push({
      id,
      host,
      aliases: Array.from({ length: i % 4 }, (_, a) =>
        a === 0 ? `www.${host}` : `alias${a}.${id}.example.org`,
      ),
      upstream: upstream(id),
      webhookSecretRef: `WEBHOOK_SECRET_${id.toUpperCase().replaceAll('-', '_')}`,
      policy,
    });
  }
  return {
    version: 1 as const,
    defaults: { policy: { htmlTtl: 300, staleWhileRevalidate: 60, staleIfError: 86400 } },
    sites,
  };
}

/** Every host of a generated registry (canonical and aliases), in site order. */
export function scaleHosts(doc: ReturnType<typeof scaleRegistry>): string[] {
  return doc.sites.flatMap((s) => [s.host, ...s.aliases]);
}

/**
 * Validates a generated registry of any size. common's schema refuses more than
 * REGISTRY_LIMITS.sites (10,000) in one document, so a larger one is validated in chunks of that
 * size and merged: every site is checked by the schema; cross-chunk host uniqueness holds by
 * construction (hosts embed the site's index).
 */
export function validateScaleRegistry(doc: ReturnType<typeof scaleRegistry>): Registry {
  const limit = REGISTRY_LIMITS.sites;
  if (doc.sites.length <= limit) return validateRegistry(doc);
  const merged: Registry = { version: 1, sites: [], byHost: new Map(), byId: new Map() };
  for (let i = 0; i < doc.sites.length; i += limit) {
    const part = validateRegistry({ ...doc, sites: doc.sites.slice(i, i + limit) });
    merged.sites.push(...part.sites);
    for (const [k, v] of part.byHost) merged.byHost.set(k, v);
    for (const [k, v] of part.byId) merged.byId.set(k, v);
  }
  return merged;
}
