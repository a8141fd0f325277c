/**
 * The farm's images built locally: every recipe of infra/src/images.ts, from the repository's own
 * Dockerfiles, with the local bases (infra/swarm/bases.ts) passed as build args in place of the
 * official images. Tags `<registry>/<name>:<version>` (the local profile: wpfarm/<name>:local).
 *
 *   node infra/swarm/build.ts [name...]     (IMAGE_REGISTRY, FARM_VERSION; default wpfarm, local)
 *
 * builds the missing local bases first, then the named images (default: all).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildArgs, IMAGES } from '../src/images.ts';
import { ensureBases, localBuildArgs, runCommand, tail } from './bases.ts';

const ROOT = resolve(import.meta.dirname, '../..');

export interface FarmBuildOptions {
  registry: string;
  version: string;
  log?: (line: string) => void;
  /** Image names of IMAGES (default: every one). */
  names?: readonly string[];
}

export interface FarmBuildResult {
  image: string;
  seconds: number;
}

/** The `docker build` argv of one farm image with the local bases (run from the repository root). */
export function localBuildArgv(name: string, registry: string, version: string): string[] {
  const recipe = IMAGES[name];
  if (!recipe) throw new Error(`unknown image "${name}" (known: ${Object.keys(IMAGES).join(', ')})`);
  const dockerfile = readFileSync(join(ROOT, recipe.dockerfile), 'utf8');
  return buildArgs(name, registry, version, localBuildArgs(dockerfile, recipe.dockerfile));
}

/**
 * Builds farm images with the local bases (which must exist: ensureBases), one after the other,
 * one progress line per image with its seconds. Throws with the build's tail on the first failure.
 */
export async function buildFarmImages(opts: FarmBuildOptions): Promise<FarmBuildResult[]> {
  const log = opts.log ?? console.log;
  const names = opts.names ?? Object.keys(IMAGES);
  // Every argv first: a Dockerfile no local base can build fails before any build starts.
  const argvs = names.map((name) => [name, localBuildArgv(name, opts.registry, opts.version)] as const);
  const results: FarmBuildResult[] = [];
  for (const [name, argv] of argvs) {
    const image = `${opts.registry}/${name}:${opts.version}`;
    const t = Date.now();
    const r = await runCommand('docker', argv, { cwd: ROOT });
    if (r.status !== 0) throw new Error(`docker ${argv.join(' ')} failed:\n${tail(r.output)}`);
    const seconds = (Date.now() - t) / 1000;
    log(`› ${image} built in ${seconds.toFixed(1)} s`);
    results.push({ image, seconds });
  }
  return results;
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const t = Date.now();
  const names = process.argv.slice(2);
  ensureBases()
    .then(() =>
      buildFarmImages({
        registry: process.env.IMAGE_REGISTRY ?? 'wpfarm',
        version: process.env.FARM_VERSION ?? 'local',
        names: names.length ? names : undefined,
      }),
    )
    .then(() => console.log(`› farm images built in ${((Date.now() - t) / 1000).toFixed(1)} s`))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
