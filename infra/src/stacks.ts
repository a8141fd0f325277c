/**
 * The farm's Swarm stacks and the files each is deployed with: one place for the deploy commands
 * (`node infra/src/stacks.ts [stack...]` prints them), the runbooks and the stack tests.
 * Stack names are fixed: services find each other as `<stack>_<service>` (e.g. cache_varnish-1).
 */
import { readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const INFRA = resolve(import.meta.dirname, '..');

/** Tier stacks in deploy order, each with its files (later files override earlier ones). */
export const TIER_STACKS: Readonly<Record<string, readonly string[]>> = Object.freeze({
  db: ['stacks/db.yml'],
  cache: ['stacks/cache.yml', 'generated/cache.sites.yml'],
  services: ['stacks/services.yml', 'generated/services.sites.yml'],
  ingress: ['stacks/ingress.yml'],
  monitoring: ['stacks/monitoring.yml'],
});

/** Every stack: the tiers, then one `wp-<id>` per rendered site; paths absolute. */
export function allStacks(infraDir = INFRA): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, files] of Object.entries(TIER_STACKS))
    out.set(
      name,
      files.map((f) => join(infraDir, f)),
    );
  const sites = readdirSync(join(infraDir, 'generated/sites')).filter((f) => f.endsWith('.yml'));
  for (const f of sites.sort()) out.set(f.replace(/\.yml$/, ''), [join(infraDir, 'generated/sites', f)]);
  return out;
}

/** `docker stack deploy` argv for one stack (`--with-registry-auth`: workers pull private images). */
export function deployArgs(name: string, files: readonly string[]): string[] {
  return ['stack', 'deploy', '--with-registry-auth', '--prune', ...files.flatMap((f) => ['-c', f]), name];
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const stacks = allStacks();
  const wanted = process.argv.slice(2);
  for (const w of wanted)
    if (!stacks.has(w)) throw new Error(`unknown stack "${w}" (known: ${[...stacks.keys()].join(', ')})`);
  console.log('set -a; . infra/stacks/farm.env; set +a');
  for (const [name, files] of stacks)
    if (wanted.length === 0 || wanted.includes(name))
      console.log(
        `docker ${deployArgs(
          name,
          files.map((f) => relative(process.cwd(), f)),
        ).join(' ')}`,
      );
}
