/**
 * Publishes the site registry's host map for the worker: loads and validates a registry file and
 * prints (or writes) the KV bulk file `wrangler kv bulk put` takes.
 *
 *   node src/publish-host-map.ts [registry] [--out kv-bulk.json] [--layout sharded|both|document]
 *   npx wrangler kv bulk put kv-bulk.json --binding EDGE_KV --env production
 *
 * `--layout` (default `sharded`): the sharded documents the worker reads (`hostmap/index` +
 * `hostmap/<count>/…`, see host-map.ts); `both` adds the one-document map (`hostmap`) for a
 * deployment still running a worker that reads only that; `document` writes that alone (the
 * worker reads it only while `hostmap/index` does not exist). The index comes last in the file,
 * after every shard it names. The default registry is infra/registry/sites.yaml. A registry
 * error names the file, site and field.
 */
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRegistry } from '@wpfarm/common/registry/load';
import type { Registry } from '@wpfarm/common/registry/schema';
import { buildHostMapDocument, buildHostMapShards, HOST_MAP_INDEX_KEY, HOST_MAP_KEY } from './host-map.ts';

/** One entry of a `wrangler kv bulk put` file. */
export interface KvBulkEntry {
  key: string;
  value: string;
}

/** Workers KV's largest value (25 MiB). */
export const KV_VALUE_LIMIT_BYTES = 25 * 1024 * 1024;

export type HostMapLayout = 'sharded' | 'both' | 'document';

/** The layout published when none is named: the one the worker reads first. */
export const DEFAULT_HOST_MAP_LAYOUT: HostMapLayout = 'sharded';

/**
 * The KV bulk entries for a registry in the given layout, the sharded index last.
 * @throws Error when the one document would exceed KV's value limit (publish `sharded` alone).
 */
export function hostMapBulk(
  registry: Registry,
  now = new Date(),
  layout: HostMapLayout = DEFAULT_HOST_MAP_LAYOUT,
): KvBulkEntry[] {
  const out: KvBulkEntry[] = [];
  if (layout !== 'sharded') {
    const value = JSON.stringify(buildHostMapDocument(registry, now));
    const bytes = Buffer.byteLength(value);
    if (bytes > KV_VALUE_LIMIT_BYTES)
      throw new Error(
        `the host map document is ${bytes} bytes, over KV's ${KV_VALUE_LIMIT_BYTES}-byte value limit: publish --layout sharded`,
      );
    out.push({ key: HOST_MAP_KEY, value });
  }
  if (layout !== 'document') {
    const { index, shards } = buildHostMapShards(registry, now);
    for (const [key, shard] of shards) out.push({ key, value: JSON.stringify(shard) });
    out.push({ key: HOST_MAP_INDEX_KEY, value: JSON.stringify(index) });
  }
  return out;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const out = outAt === -1 ? undefined : args[outAt + 1];
  const layoutAt = args.indexOf('--layout');
  const layout = (layoutAt === -1 ? DEFAULT_HOST_MAP_LAYOUT : args[layoutAt + 1]) as HostMapLayout;
  if (!['sharded', 'both', 'document'].includes(layout)) {
    console.error(`--layout must be sharded, both or document (got ${JSON.stringify(layout)})`);
    process.exit(2);
  }
  const file =
    args.find((a, i) => !a.startsWith('--') && i !== outAt + 1 && i !== layoutAt + 1) ??
    resolve(dirname(fileURLToPath(import.meta.url)), '../../infra/registry/sites.yaml');
  try {
    const bulk = hostMapBulk(await loadRegistry(file), new Date(), layout);
    const text = `${JSON.stringify(bulk, null, 2)}\n`;
    if (out) {
      writeFileSync(out, text);
      console.error(`wrote ${out} (${bulk.length} keys, ${text.length} bytes) from ${file}`);
    } else process.stdout.write(text);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
