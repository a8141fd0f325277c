import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from '@wpfarm/common/registry/schema';

/**
 * Webhook secrets per site. Each site's `webhookSecretRef` names an environment variable (the
 * local farm and plain deployments) or, when that variable is absent, a file of the same name in
 * WEBHOOK_SECRETS_DIR (Docker secrets mounted at /run/secrets). `<ref>_PREVIOUS` holds the old
 * secret during a rotation: both verify until it is removed.
 */
export interface SiteSecrets {
  /** Secrets that verify a site's webhooks, current first; empty when none is configured. */
  get(siteId: string): readonly string[];
  /** Site ids without any secret (logged once at start). */
  missing: string[];
}

/** Resolves every site's secrets once at start (server.ts passes process.env). */
export function resolveSiteSecrets(
  registry: Registry,
  env: Record<string, string | undefined>,
  secretsDir?: string,
): SiteSecrets {
  const byId = new Map<string, string[]>();
  const missing: string[] = [];
  const read = (name: string): string | undefined => {
    const v = env[name]?.trim();
    if (v) return v;
    if (!secretsDir) return undefined;
    try {
      return readFileSync(join(secretsDir, name), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  };
  for (const site of registry.sites) {
    const list = [read(site.webhookSecretRef), read(`${site.webhookSecretRef}_PREVIOUS`)].filter(
      (s): s is string => !!s,
    );
    if (list.length === 0) missing.push(site.id);
    byId.set(site.id, list);
  }
  return { get: (id) => byId.get(id) ?? [], missing };
}
