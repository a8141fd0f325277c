/**
 * The farm's own images: one place listing how each is built. `node infra/src/images.ts` prints
 * the production `docker build` commands (run them from the repository root, with IMAGE_REGISTRY
 * and FARM_VERSION from infra/stacks/farm.env); the stack tests check every image a stack runs
 * from ${IMAGE_REGISTRY} is listed here. Every Dockerfile takes its base images from ARGs whose
 * defaults are the official images; the local Swarm profile builds the same recipes with
 * Debian-built bases passed as build args (infra/swarm/build.ts).
 */
import { resolve } from 'node:path';

export interface ImageRecipe {
  dockerfile: string;
  target?: string;
  args?: Record<string, string>;
}

/** Image name (after `${IMAGE_REGISTRY}/`) → how to build it. */
export const IMAGES: Readonly<Record<string, ImageRecipe>> = Object.freeze({
  'origin-router': {
    dockerfile: 'infra/docker/node-service.Dockerfile',
    args: { WORKSPACE: 'origin-router', HEALTH_URL: 'http://127.0.0.1:8080/ping' },
  },
  'cache-purger': {
    dockerfile: 'infra/docker/node-service.Dockerfile',
    args: { WORKSPACE: 'cache-purger', HEALTH_URL: 'http://127.0.0.1:8070/healthz' },
  },
  'proxysql-health': {
    dockerfile: 'infra/docker/node-service.Dockerfile',
    args: { WORKSPACE: 'proxysql-health', HEALTH_URL: 'http://127.0.0.1:9200/live' },
  },
  telemetry: {
    dockerfile: 'infra/docker/node-service.Dockerfile',
    args: { WORKSPACE: 'telemetry', HEALTH_URL: 'http://127.0.0.1:4318/healthz' },
  },
  varnish: { dockerfile: 'infra/docker/varnish.Dockerfile' },
  'wordpress-php': { dockerfile: 'infra/docker/wordpress.Dockerfile', target: 'php' },
  'wordpress-nginx': { dockerfile: 'infra/docker/wordpress.Dockerfile', target: 'nginx' },
  galera: { dockerfile: 'infra/docker/galera.Dockerfile' },
});

/**
 * The `docker build` argv of one image; `extraArgs` are more build args after the recipe's (the
 * local profile's base images).
 */
export function buildArgs(
  name: string,
  registry: string,
  version: string,
  extraArgs: Readonly<Record<string, string>> = {},
): string[] {
  const r = IMAGES[name];
  if (!r) throw new Error(`unknown image "${name}" (known: ${Object.keys(IMAGES).join(', ')})`);
  return [
    'build',
    '-f',
    r.dockerfile,
    ...(r.target ? ['--target', r.target] : []),
    ...Object.entries({ ...r.args, ...extraArgs }).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    '-t',
    `${registry}/${name}:${version}`,
    '.',
  ];
}

/** What a Dockerfile builds on: the ARGs its FROM lines take, and FROMs naming an image outright. */
export interface BaseImages {
  /** Global ARG → its default, for every ARG a FROM uses (directly or through another ARG). */
  args: Record<string, string>;
  /** FROM images that are neither an ARG nor an earlier stage (cannot be swapped for a local base). */
  literal: string[];
}

/** The base images of a Dockerfile (its text), from its global ARGs and FROM lines. */
export function baseImages(dockerfile: string): BaseImages {
  const lines = dockerfile
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const globals = new Map<string, string>();
  const stages = new Set<string>();
  const used = new Set<string>();
  const literal: string[] = [];
  let seenFrom = false;
  const useArg = (name: string) => {
    if (used.has(name)) return;
    used.add(name);
    const ref = /^\$\{?(\w+)\}?$/.exec(globals.get(name) ?? '');
    if (ref) useArg(ref[1]!);
  };
  for (const line of lines) {
    const [op = '', ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === 'ARG' && !seenFrom) {
      const [name = '', value = ''] = rest.join(' ').split(/=(.*)/);
      globals.set(name, value);
    } else if (op.toUpperCase() === 'FROM') {
      seenFrom = true;
      const words = rest.filter((w) => !w.startsWith('--'));
      const image = words[0] ?? '';
      const arg = /^\$\{?(\w+)\}?$/.exec(image);
      if (arg && globals.has(arg[1]!)) useArg(arg[1]!);
      else if (!stages.has(image)) literal.push(image);
      if (words[1]?.toUpperCase() === 'AS' && words[2]) stages.add(words[2]);
    }
  }
  return { args: Object.fromEntries([...used].map((a) => [a, globals.get(a) ?? ''])), literal };
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const registry = process.env.IMAGE_REGISTRY ?? '$IMAGE_REGISTRY';
  const version = process.env.FARM_VERSION ?? '$FARM_VERSION';
  for (const name of Object.keys(IMAGES))
    console.log(`docker ${buildArgs(name, registry, version).join(' ')}`);
}
