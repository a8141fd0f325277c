/**
 * The test farm: a registry exercising every policy the edge reads, and the test secrets. Imported
 * by the Node side (global setup: the origin) and by the tests running in workerd.
 */
export const TEST_EDGE_KEY = 'test-edge-key-0123456789abcdef0123456789';
export const TEST_BRIDGE_TOKEN = 'test-bridge-token-0123456789abcdef';
export const TEST_PURGE_TOKEN = 'test-purge-token-0123456789abcdef01234567';

const site = (id: string, host: string, policy: Record<string, unknown> = {}, aliases: string[] = []) => ({
  id,
  host,
  aliases,
  upstream: `http://wp-${id}:80`,
  webhookSecretRef: `WEBHOOK_SECRET_${id.toUpperCase().replaceAll('-', '_')}`,
  policy,
});

/** The registry document (validated by common's schema in both runtimes). */
export const TEST_REGISTRY = {
  version: 1,
  sites: [
    site('alpha', 'alpha.test', { aliasMode: 'redirect' }, ['www.alpha.test']),
    site('beta', 'beta.test', { aliasMode: 'serve', woocommerce: true, deviceVariants: true }, [
      'shop.beta.test',
    ]),
    site('gamma', 'gamma.test', { xmlrpc: true, restApiCache: true, extraBypassCookies: ['pmpro_visit'] }),
    // Expires at once, never revalidates in the background, serves stale on error for a day.
    site('stale', 'stale.test', { htmlTtl: 0, staleWhileRevalidate: 0, staleIfError: 86400 }),
    // Expires at once, then served stale while one background refresh runs.
    site('swr', 'swr.test', { htmlTtl: 0, staleWhileRevalidate: 3600, staleIfError: 0 }),
    site('purge-a', 'purge-a.test'),
    site('purge-b', 'purge-b.test'),
  ],
};

/**
 * A generated registry document (sites `from` … `to - 1`), as the scale benchmark builds them:
 * each site with 0–3 aliases (by its number) and mixed policies, odd sites serving their aliases
 * and even ones redirecting them.
 */
export function generatedRegistry(to: number, from = 0) {
  return {
    version: 1,
    sites: Array.from({ length: to - from }, (_, k) => {
      const i = from + k;
      return {
        id: `site-${i}`,
        host: `site-${i}.example.test`,
        aliases: Array.from({ length: i % 4 }, (_, a) => `a${a}.site-${i}.example.test`),
        upstream: `http://wp-site-${i}_nginx:80`,
        webhookSecretRef: `WEBHOOK_SECRET_SITE_${i}`,
        policy: {
          aliasMode: i % 2 ? 'serve' : 'redirect',
          woocommerce: i % 5 === 0,
          deviceVariants: i % 7 === 0,
          extraBypassCookies: i % 3 === 0 ? ['pmpro_visit'] : [],
        },
      };
    }),
  };
}
