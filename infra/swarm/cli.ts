/**
 * `npm run swarm -- up|test|down|status|render`: the farm on a local one-node Docker Swarm, from
 * the repository's own Dockerfiles and production stacks (through the one-node override in
 * one-node.ts), and the end-to-end tests against it.
 *
 *   up      start dockerd and a one-node Swarm if needed, build the base and farm images, create
 *           networks and secrets, deploy every tier in the runbook's order, databases and WordPress
 *   test    the end-to-end table (e2e.ts); exits 1 when any check fails; `test rolling galera`
 *           runs only the checks whose names contain those words
 *   down    remove the stacks, networks, secrets and configs it created; stop dockerd if it started it
 *   status  the stacks' services and replicas
 *   render  write the one-node stacks into the run folder and print their paths (no engine needed
 *           beyond `docker network inspect`)
 *
 * Environment: SWARM_RUN_DIR (default <repo>/.swarm), SWARM_BASE_PORT (default 29000).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { ensureBases, LOCAL_BASES } from './bases.ts';
import { buildFarmImages } from './build.ts';
import {
  createNetworks,
  createSecrets,
  DEPLOY_ORDER,
  deployStack,
  externalSecrets,
  type Profile,
  readSecret,
  renderLocalStacks,
  replicas,
  waitConverged,
} from './deploy.ts';
import { docker, ensureEngine, stopEngine, waitFor } from './docker.ts';
import { runEndToEnd } from './e2e.ts';
import { LOCAL_REGISTRY, LOCAL_VERSION, STANDIN_IMAGES } from './profile.ts';
import { createSiteDatabases, installWordPress } from './sites.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const REGISTRY_FILE = join(ROOT, 'infra/registry/sites.yaml');

function profile(): Profile {
  const base = Number(process.env.SWARM_BASE_PORT ?? 29000);
  if (!Number.isInteger(base) || base < 1024 || base > 65000)
    throw new Error(
      `SWARM_BASE_PORT must be an integer in 1024..65000 (got "${process.env.SWARM_BASE_PORT}")`,
    );
  return {
    runDir: resolve(process.env.SWARM_RUN_DIR ?? join(ROOT, '.swarm')),
    basePort: base,
    images: {
      ...LOCAL_BASES,
      ...Object.fromEntries(Object.entries(STANDIN_IMAGES).map(([official, s]) => [official, s.tag])),
    },
    log: (line) => console.log(line),
  };
}

const started = Date.now();
const since = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;

/** Runs one step with a progress line before and its duration after. */
async function step<T>(p: Profile, what: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  p.log(`› [${since()}] ${what}`);
  const r = await fn();
  p.log(`  done in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return r;
}

async function up(p: Profile): Promise<void> {
  await step(p, 'Docker engine and one-node Swarm', () => ensureEngine(p.runDir, p.log));
  await step(p, 'local base images (Debian)', () => ensureBases({ log: p.log }));
  await step(p, 'farm images (repository Dockerfiles)', () =>
    buildFarmImages({ registry: LOCAL_REGISTRY, version: LOCAL_VERSION, log: p.log }),
  );
  await step(p, 'stand-in images (infra/swarm/standins)', async () => {
    for (const s of Object.values(STANDIN_IMAGES)) {
      const t = Date.now();
      await docker(
        [
          'build',
          '-q',
          '-f',
          s.dockerfile,
          '--build-arg',
          `MARIADB_IMAGE=${LOCAL_BASES['mariadb:10.11']}`,
          '-t',
          s.tag,
          ROOT,
        ],
        {
          timeoutMs: 900_000,
        },
      );
      p.log(`› ${s.tag} built in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
  });
  // Volumes an earlier run left (one interrupted before `down`) hold a Galera whose users belong
  // to that run's secrets: this run's nodes would wait on it for ever. Nothing deployed → a fresh farm.
  if (!(await ourStacks()).length && (await ourVolumes()).length)
    await step(p, 'volumes left by an earlier run (nothing of ours is deployed): removed', () =>
      removeVolumes(p),
    );
  await step(p, 'networks (infra/stacks/create-networks.sh)', createNetworks);
  const stacks = await step(p, 'one-node stacks from the production files', () => renderLocalStacks(p));
  await step(p, 'secrets', () => createSecrets(p, externalSecrets(stacks)));
  const registry = await loadRegistry(REGISTRY_FILE);
  for (const name of DEPLOY_ORDER) {
    await step(p, `deploy ${name}`, async () => {
      await deployStack(p, name);
      await waitConverged(p, [name], name === 'db' ? 600_000 : 300_000);
    });
    if (name === 'db')
      await step(p, 'site databases on Galera', () =>
        createSiteDatabases(registry.sites, (s) => readSecret(p.runDir, `db_${s.id}_v1`), p.log),
      );
  }
  const sites = [...stacks.keys()].filter((s) => s.startsWith('wp-'));
  await step(p, `deploy ${sites.join(', ')}`, async () => {
    for (const s of sites) await deployStack(p, s);
    await waitConverged(p, sites, 300_000);
  });
  await step(p, 'WordPress install', () => installWordPress(registry, p.runDir, p.log));
  p.log(
    `› [${since()}] the farm is up: http://127.0.0.1:${p.basePort + 80}/ (Host: <site host>, x-edge-auth: .swarm/secrets/edge_auth_v1)`,
  );
}

/** The named volumes of this profile's stacks (`db_galera_1`, `wp-alpha_content`, …). */
async function ourVolumes(): Promise<string[]> {
  return (await docker(['volume', 'ls', '-q'])).stdout
    .split('\n')
    .filter((v) => DEPLOY_ORDER.some((s) => v.startsWith(`${s}_`)) || v.startsWith('wp-'));
}

/**
 * Removes this profile's volumes and the anonymous ones its images' VOLUME lines leave behind,
 * retrying while a container that is going away still holds one.
 * @throws Error naming the volumes still there after a minute: a later `up` would start Galera
 *   on data whose users and passwords belong to secrets that no longer exist.
 */
async function removeVolumes(p: Profile): Promise<void> {
  await waitFor(
    "the farm's volumes to be removed",
    async () => {
      const named = await ourVolumes();
      // Anonymous volumes (e.g. the MariaDB base's /var/lib/mysql under the ProxySQL stand-in).
      const anon = (await docker(['volume', 'ls', '-q', '--filter', 'dangling=true'])).stdout
        .split('\n')
        .filter((v) => /^[0-9a-f]{64}$/.test(v));
      if (!named.length && !anon.length) return true;
      const r = await docker(['volume', 'rm', ...named, ...anon], { allowFailure: true });
      if (r.status === 0) return true;
      // Only the named ones must go; an anonymous volume another container uses may stay.
      const left = await ourVolumes();
      if (!left.length) return true;
      p.log(`  volumes still in use: ${left.join(', ')}`);
      throw new Error(r.stderr.trim());
    },
    60_000,
  );
}

/** Every stack this profile deploys, tiers and sites. */
async function ourStacks(): Promise<string[]> {
  const r = await docker(['stack', 'ls', '--format', '{{.Name}}'], { allowFailure: true });
  const mine = new Set<string>([...DEPLOY_ORDER]);
  return r.stdout.split('\n').filter((s) => mine.has(s) || s.startsWith('wp-'));
}

async function down(p: Profile): Promise<void> {
  const running = (
    await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'], { allowFailure: true })
  ).stdout.trim();
  if (running === 'active') {
    const stacks = await ourStacks();
    if (stacks.length)
      await step(p, `remove stacks ${stacks.join(', ')}`, async () => {
        await docker(['stack', 'rm', ...stacks]);
        await waitFor(
          'the stacks’ containers to stop',
          // -a: an exited task container still holds its volumes (`volume rm` would fail), and
          // Swarm takes minutes to remove them itself: once nothing runs, remove them here.
          async () => {
            const running = await docker(['ps', '-q', '--filter', 'label=com.docker.stack.namespace']);
            if (running.stdout.trim() !== '') return undefined;
            const left = (await docker(['ps', '-aq', '--filter', 'label=com.docker.stack.namespace'])).stdout
              .split('\n')
              .filter(Boolean);
            if (left.length) await docker(['rm', '-f', ...left], { allowFailure: true });
            return true;
          },
          180_000,
        );
      });
    await step(p, 'remove networks, secrets, configs and volumes', async () => {
      const nets = ['farm_edge', 'farm_cache', 'farm_purge', 'farm_app', 'farm_db', 'farm_mon'];
      // A network is released a moment after its last task: retry briefly.
      await waitFor(
        'the farm networks to go',
        async () => {
          const r = await docker(['network', 'rm', ...nets], { allowFailure: true });
          return r.status === 0 || /not found/.test(r.stderr) ? true : undefined;
        },
        60_000,
      );
      // The external secrets this profile created (the stacks' own configs and templated
      // secrets went with `docker stack rm`).
      const dir = join(p.runDir, 'secrets');
      const secrets = existsSync(dir) ? readdirSync(dir) : [];
      if (secrets.length) await docker(['secret', 'rm', ...secrets], { allowFailure: true });
      await removeVolumes(p);
      if (existsSync(join(p.runDir, 'secrets'))) rmSync(join(p.runDir, 'secrets'), { recursive: true });
    });
  }
  await stopEngine(p.runDir, p.log);
}

async function status(p: Profile): Promise<void> {
  for (const s of await ourStacks())
    for (const [name, [run, want]] of await replicas(s))
      p.log(`${run < want ? '✗' : '✓'} ${name} ${run}/${want}`);
}

const cmd = process.argv[2] ?? '';
const p = profile();
const commands: Record<string, () => Promise<unknown>> = {
  up: () => up(p),
  test: async () => {
    const failed = await runEndToEnd(p, process.argv.slice(3));
    process.exitCode = failed > 0 ? 1 : 0;
  },
  down: () => down(p),
  status: () => status(p),
  render: async () => {
    await ensureEngine(p.runDir, p.log);
    const stacks = await renderLocalStacks(p);
    for (const name of stacks.keys()) p.log(join(p.runDir, 'stacks', `${name}.yml`));
  },
};
const fn = commands[cmd];
if (!fn) {
  console.error(`usage: npm run swarm -- ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
fn().catch((err: Error) => {
  console.error(
    `swarm ${cmd} failed: ${err.message}${err.cause ? `\n  cause: ${(err.cause as Error).message ?? err.cause}` : ''}`,
  );
  process.exit(1);
});
