/**
 * Publishes the site registry's host map for the worker: loads and validates a registry file and
 * prints (or writes) the KV bulk file `wrangler kv bulk put` takes.
 *
 *   node src/publish-host-map.ts [registry] [--out kv-bulk.json]
 *   npx wrangler kv bulk put kv-bulk.json --binding EDGE_KV --env production
 *
 * The default registry is infra/registry/sites.yaml. A registry error names the file, site and field.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRegistry } from '@wpfarm/common/registry/load';
import type { Registry } from '@wpfarm/common/registry/schema';
import { buildHostMapDocument, HOST_MAP_KEY } from './host-map.ts';

/** One entry of a `wrangler kv bulk put` file. */
export interface KvBulkEntry {
  key: string;
  value: string;
}

/** The KV bulk entries for a registry: today one key, the host map. */
export function hostMapBulk(registry: Registry, now = new Date()): KvBulkEntry[] {
  return [{ key: HOST_MAP_KEY, value: JSON.stringify(buildHostMapDocument(registry, now)) }];
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const out = outAt === -1 ? undefined : args[outAt + 1];
  const file =
    args.find((a, i) => !a.startsWith('--') && i !== outAt + 1) ??
    resolve(dirname(fileURLToPath(import.meta.url)), '../../infra/registry/sites.yaml');
  try {
    const bulk = hostMapBulk(await loadRegistry(file));
    const text = `${JSON.stringify(bulk, null, 2)}\n`;
    if (out) {
      writeFileSync(out, text);
      console.error(`wrote ${out} (${bulk.length} key, ${text.length} bytes) from ${file}`);
    } else process.stdout.write(text);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
