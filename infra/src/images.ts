/**
 * The farm's own images: one place listing how each is built. `node infra/src/images.ts` prints
 * the `docker build` commands (run them from the repository root, with IMAGE_REGISTRY and
 * FARM_VERSION from infra/stacks/farm.env); the stack tests check every image a stack runs from
 * ${IMAGE_REGISTRY} is listed here.
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
    args: { WORKSPACE: 'proxysql-health', HEALTH_URL: 'http://127.0.0.1:9200/status' },
  },
  telemetry: {
    dockerfile: 'infra/docker/node-service.Dockerfile',
    args: { WORKSPACE: 'telemetry', HEALTH_URL: 'http://127.0.0.1:4318/healthz' },
  },
  varnish: { dockerfile: 'infra/docker/varnish.Dockerfile' },
  'wordpress-php': { dockerfile: 'infra/docker/wordpress.Dockerfile', target: 'php' },
  'wordpress-nginx': { dockerfile: 'infra/docker/wordpress.Dockerfile', target: 'nginx' },
});

/** The `docker build` argv of one image. */
export function buildArgs(name: string, registry: string, version: string): string[] {
  const r = IMAGES[name];
  if (!r) throw new Error(`unknown image "${name}" (known: ${Object.keys(IMAGES).join(', ')})`);
  return [
    'build',
    '-f',
    r.dockerfile,
    ...(r.target ? ['--target', r.target] : []),
    ...Object.entries(r.args ?? {}).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
    '-t',
    `${registry}/${name}:${version}`,
    '.',
  ];
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const registry = process.env.IMAGE_REGISTRY ?? '$IMAGE_REGISTRY';
  const version = process.env.FARM_VERSION ?? '$FARM_VERSION';
  for (const name of Object.keys(IMAGES))
    console.log(`docker ${buildArgs(name, registry, version).join(' ')}`);
}
