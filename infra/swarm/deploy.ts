/**
 * Deploying the farm on the local one-node Swarm: render each production stack with
 * `docker stack config` and the profile's variables, apply the one-node rules, create the
 * networks, secrets and stacks in the runbook's order, and wait until every task is healthy.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { farmEnv, STACKS, stackConfig } from '../src/stack-config.ts';
import { allStacks } from '../src/stacks.ts';
import { command, docker, sleep, waitFor } from './docker.ts';
import { type Doc, toOneNode } from './one-node.ts';
import { localEnv, onePlan, secretValue } from './profile.ts';

export interface Profile {
  /** Run folder: rendered stacks, generated secret values (0600), logs. */
  runDir: string;
  basePort: number;
  /** Official image → local base (bases.ts). */
  images: Record<string, string>;
  log: (line: string) => void;
}

/** Tier stacks in the runbook's deploy order; the site stacks follow. */
export const DEPLOY_ORDER = ['db', 'cache', 'services', 'ingress', 'monitoring'] as const;

/** The subnet of Docker's gateway bridge (where host-mode published ports' clients come from). */
export async function gwbridgeSubnet(): Promise<string> {
  const r = await docker([
    'network',
    'inspect',
    'docker_gwbridge',
    '--format',
    '{{range .IPAM.Config}}{{.Subnet}}{{end}}',
  ]);
  return r.stdout.trim();
}

/** Renders every stack for this node into `<runDir>/stacks/<name>.yml`; returns name → doc. */
export async function renderLocalStacks(p: Profile): Promise<Map<string, Doc>> {
  const env = localEnv(farmEnv(), await gwbridgeSubnet());
  const plan = onePlan({ images: p.images, base: p.basePort, cpus: availableParallelism() });
  const dir = join(p.runDir, 'stacks');
  mkdirSync(dir, { recursive: true });
  const out = new Map<string, Doc>();
  for (const [name, files] of allStacks()) {
    const doc = toOneNode(name, (await stackConfig(files, env)) as unknown as Doc, plan);
    writeFileSync(join(dir, `${name}.yml`), stringify(doc, { lineWidth: 0 }));
    out.set(name, doc);
  }
  return out;
}

/** Every external secret the rendered stacks use, by its Swarm name. */
export function externalSecrets(stacks: Map<string, Doc>): string[] {
  const names = new Set<string>();
  for (const doc of stacks.values())
    for (const s of Object.values(
      (doc.secrets ?? {}) as Record<string, { external?: boolean; name?: string }>,
    ))
      if (s.external && s.name) names.add(s.name);
  return [...names].sort();
}

/** A generated secret's value, kept (mode 0600) in the run folder for the tests that need it. */
export function readSecret(runDir: string, name: string): string {
  return readFileSync(join(runDir, 'secrets', name), 'utf8');
}

/** Creates each missing secret from stdin with a generated value (never in argv). */
export async function createSecrets(p: Profile, names: string[]): Promise<void> {
  const dir = join(p.runDir, 'secrets');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = new Set(
    (await docker(['secret', 'ls', '--format', '{{.Name}}'])).stdout.split('\n').filter(Boolean),
  );
  let created = 0;
  for (const name of names) {
    const file = join(dir, name);
    if (existing.has(name) && existsSync(file)) continue;
    if (existing.has(name)) await docker(['secret', 'rm', name]);
    const value = secretValue(name);
    writeFileSync(file, value, { mode: 0o600 });
    chmodSync(file, 0o600);
    await docker(['secret', 'create', name, '-'], { input: value });
    created++;
  }
  p.log(`secrets: ${names.length} (${created} created)`);
}

/** `infra/stacks/create-networks.sh`, as the runbook runs it. */
export async function createNetworks(): Promise<void> {
  await command('bash', [join(STACKS, 'create-networks.sh')]);
}

/** `docker stack deploy` of one rendered stack. */
export async function deployStack(p: Profile, name: string): Promise<void> {
  await docker(
    [
      'stack',
      'deploy',
      '--prune',
      '--resolve-image',
      'never',
      '-c',
      join(p.runDir, 'stacks', `${name}.yml`),
      name,
    ],
    {
      timeoutMs: 300_000,
    },
  );
}

/** Each service of a stack with its running/desired replicas (`docker service ls`). */
export async function replicas(stack: string): Promise<Map<string, [number, number]>> {
  const r = await docker([
    'service',
    'ls',
    '--filter',
    `label=com.docker.stack.namespace=${stack}`,
    '--format',
    '{{.Name}} {{.Replicas}}',
  ]);
  const out = new Map<string, [number, number]>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [name, rep] = line.split(' ');
    const m = /^(\d+)\/(\d+)/.exec(rep ?? '');
    if (name && m) out.set(name, [Number(m[1]), Number(m[2])]);
  }
  return out;
}

/**
 * Waits until every service of the stacks runs all its replicas (a task with a health check
 * counts as running only once healthy), printing what is still pending every 15 s.
 */
export async function waitConverged(p: Profile, stacks: string[], timeoutMs: number): Promise<void> {
  let lastPrint = 0;
  // Swarm starts applying a deploy a moment after `docker stack deploy` returns.
  await sleep(5_000);
  await waitFor(
    `${stacks.join(', ')} to converge`,
    async () => {
      const pending: string[] = [];
      for (const s of stacks) {
        const reps = await replicas(s);
        for (const [name, [run, want]] of reps) if (run < want) pending.push(`${name} ${run}/${want}`);
        // A rolling update in progress still shows the old tasks running.
        if (reps.size) {
          const st = await docker([
            'service',
            'inspect',
            ...reps.keys(),
            '--format',
            '{{.Spec.Name}} {{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
          ]);
          for (const line of st.stdout.split('\n'))
            if (/ (updating|rollback_started)$/.test(line)) pending.push(line.replace(' ', ' (') + ')');
        }
      }
      if (pending.length === 0) return true;
      if (Date.now() - lastPrint > 15_000) {
        lastPrint = Date.now();
        p.log(
          `  waiting for ${pending.length} service(s): ${pending.slice(0, 6).join(', ')}${pending.length > 6 ? ', …' : ''}`,
        );
      }
      return undefined;
    },
    timeoutMs,
  );
}

/** The container id of one running task of a service (for `docker exec`). */
export async function taskContainer(service: string): Promise<string> {
  return waitFor(
    `a running container of ${service}`,
    async () => {
      const r = await docker([
        'ps',
        '--filter',
        `label=com.docker.swarm.service.name=${service}`,
        '--filter',
        'status=running',
        '--format',
        '{{.ID}}',
      ]);
      return r.stdout.split('\n').filter(Boolean)[0];
    },
    60_000,
    1_000,
  );
}
