import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  FARM_PORT_OFFSETS,
  FARM_SECRET_ENV,
  type FarmComponent,
  type FarmContext,
  type FarmPortName,
  type FarmSecrets,
  type FarmService,
} from '@wpfarm/common/farm-contract';
import { type ManagedProcess, managedProcesses, startProcess } from '@wpfarm/common/process/managed';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { farmTelemetryEnv } from '@wpfarm/telemetry/farm';
import { wordpressFarm, wordpressSiteIds, wordpressUpstream } from './wordpress.ts';

/** Where the farm's options come from: flags, then FARM_* environment variables, then defaults. */
export interface FarmOptions {
  root: string;
  runDir: string;
  basePort: number;
  registry: string;
  /** Only these components (by name or name prefix); all when empty. */
  only: string[];
  flags: Record<string, string | boolean>;
  log: (line: string) => void;
}

/** What `farm.json` in the run folder records, for `npm stop` and `status`. */
export interface FarmState {
  supervisorPid: number;
  startedAt: string;
  basePort: number;
  ready: boolean;
  processes: { name: string; pid: number; logFile: string }[];
  services: FarmService[];
}

export const STATE_FILE = 'farm.json';

/** Flags `npm start` accepts; components read theirs from `ctx.flags`. */
export const FARM_FLAGS = [
  'base-port',
  'run-dir',
  'registry',
  'only',
  'detach',
  'galera-nodes',
  'origin',
  'wordpress',
  'sites',
  'keep-upstream',
  'wp-children',
];

/**
 * Where each site of the farm's registry points: its own upstream when `--keep-upstream` names it
 * (or says `all`), the farm's real WordPress for the sites `--origin`/`--wordpress`/`--sites`
 * pick (when WordPress and its Galera take part), else the demo origin.
 */
export function siteUpstreams(
  ids: string[],
  flags: Record<string, string | boolean>,
  urls: { demo: string; wordpress: string },
  wordpressRuns: boolean,
): Map<string, 'own' | string> {
  const keepRaw = flags['keep-upstream'];
  const keep =
    keepRaw === true || keepRaw === 'all'
      ? ids
      : typeof keepRaw === 'string'
        ? keepRaw
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : [];
  const unknown = keep.filter((k) => !ids.includes(k));
  if (unknown.length)
    throw new Error(
      `--keep-upstream names unknown site(s): ${unknown.join(', ')} (registry: ${ids.join(', ')})`,
    );
  const wp = new Set(wordpressRuns ? wordpressSiteIds(ids, flags) : []);
  return new Map(
    ids.map((id) => [id, keep.includes(id) ? 'own' : wp.has(id) ? urls.wordpress : urls.demo] as const),
  );
}

/** Reads flags and the environment once, with clear errors. */
export function farmOptions(
  root: string,
  argv: string[],
  env: NodeJS.ProcessEnv,
  log: (l: string) => void,
): FarmOptions {
  const flags: Record<string, string | boolean> = {};
  for (const arg of argv) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (!m || !FARM_FLAGS.includes(m[1] as string))
      throw new Error(
        `unknown argument "${arg}" (known flags: ${FARM_FLAGS.map((f) => `--${f}`).join(', ')})`,
      );
    flags[m[1] as string] = m[2] ?? true;
  }
  const basePortRaw = String(flags['base-port'] ?? env.FARM_BASE_PORT ?? '18000');
  const basePort = Number(basePortRaw);
  const maxOffset = Math.max(...Object.values(FARM_PORT_OFFSETS));
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + maxOffset > 65535) {
    throw new Error(
      `FARM_BASE_PORT / --base-port must be an integer between 1024 and ${65535 - maxOffset} (got "${basePortRaw}")`,
    );
  }
  const runDir = resolve(root, String(flags['run-dir'] ?? env.FARM_RUN_DIR ?? '.farm'));
  const registry = resolve(root, String(flags.registry ?? env.FARM_REGISTRY ?? 'infra/registry/sites.yaml'));
  const onlyRaw = flags.only ?? env.FARM_ONLY ?? '';
  const only =
    typeof onlyRaw === 'string'
      ? onlyRaw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  return { root, runDir, basePort, registry, only, flags, log };
}

/** Finds every workspace's `src/farm.ts` and returns their components, by stage then name. */
export async function discoverComponents(root: string): Promise<FarmComponent[]> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] };
  // Real WordPress lives here (it belongs to no workspace's src/farm.ts): stage 20, after Galera.
  const components: FarmComponent[] = [...wordpressFarm];
  for (const ws of pkg.workspaces) {
    const file = join(root, ws, 'src', 'farm.ts');
    if (!existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as { farm?: FarmComponent[] };
    if (!Array.isArray(mod.farm))
      throw new Error(`${relative(root, file)} must export "farm: FarmComponent[]"`);
    components.push(...mod.farm);
  }
  const names = new Set<string>();
  for (const c of components) {
    if (names.has(c.name)) throw new Error(`two farm components are named "${c.name}"`);
    names.add(c.name);
  }
  return components.sort((a, b) => a.stage - b.stage || a.name.localeCompare(b.name));
}

function makeSecrets(siteRefs: string[]): FarmSecrets {
  const token = () => randomBytes(24).toString('base64url');
  return {
    edgeKeys: [token(), token()],
    varnishPurgeSecret: token(),
    edgePurgeToken: token(),
    bridgeToken: token(),
    drainToken: token(),
    webhookSecrets: Object.fromEntries(siteRefs.map((ref) => [ref, token()])),
  };
}

/** The environment variables that carry the farm's secrets to its processes. */
export function secretEnv(s: FarmSecrets): Record<string, string> {
  return {
    [FARM_SECRET_ENV.edgeKeys]: s.edgeKeys.join(','),
    [FARM_SECRET_ENV.varnishPurgeSecret]: s.varnishPurgeSecret,
    [FARM_SECRET_ENV.edgePurgeToken]: s.edgePurgeToken,
    [FARM_SECRET_ENV.bridgeToken]: s.bridgeToken,
    [FARM_SECRET_ENV.drainToken]: s.drainToken,
    ...s.webhookSecrets,
  };
}

/** True when a process (or process group leader) with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function readState(runDir: string): FarmState | undefined {
  try {
    return JSON.parse(readFileSync(join(runDir, STATE_FILE), 'utf8')) as FarmState;
  } catch {
    return undefined;
  }
}

/** A running farm: its services, and `stop()` which stops every process it started, newest first. */
export interface RunningFarm {
  services: FarmService[];
  stop(): Promise<void>;
}

/**
 * Brings the farm up: derives its registry, generates its secrets, starts every discovered
 * component by stage, and records its state. On any failure it stops what it started and throws.
 */
export async function startFarm(opts: FarmOptions): Promise<RunningFarm> {
  const existing = readState(opts.runDir);
  if (existing && alive(existing.supervisorPid) && existing.supervisorPid !== process.pid) {
    throw new Error(
      `a farm is already running from ${opts.runDir} (pid ${existing.supervisorPid}); run \`npm stop\` first`,
    );
  }
  mkdirSync(join(opts.runDir, 'logs'), { recursive: true });

  const all = await discoverComponents(opts.root);
  const active = all.filter(
    (c) =>
      opts.only.length === 0 ||
      opts.only.some((o) => c.name === o || c.name.startsWith(`${o}-`) || c.name.startsWith(o)),
  );

  // The farm's registry: each site's upstream is the farm's WordPress, the demo origin, or (with
  // --keep-upstream) the site's own from the source registry.
  const source = await loadRegistry(opts.registry);
  const port = (name: FarmPortName) => opts.basePort + FARM_PORT_OFFSETS[name];
  const upstreams = siteUpstreams(
    source.sites.map((s) => s.id),
    opts.flags,
    { demo: `http://127.0.0.1:${port('origin')}`, wordpress: wordpressUpstream(opts.basePort) },
    active.some((c) => c.name === 'wordpress') && active.some((c) => c.name === 'galera'),
  );
  const doc = {
    version: 1,
    sites: source.sites.map((s) => {
      const u = upstreams.get(s.id);
      return {
        id: s.id,
        host: s.host,
        aliases: s.aliases,
        upstream: u === 'own' || u === undefined ? s.upstream : u,
        webhookSecretRef: s.webhookSecretRef,
        policy: s.policy,
      };
    }),
  };
  const registryFile = join(opts.runDir, 'registry.json');
  writeFileSync(registryFile, `${JSON.stringify(doc, null, 2)}\n`);

  const secrets = makeSecrets(source.sites.map((s) => s.webhookSecretRef));
  const secretsFile = join(opts.runDir, 'secrets.env');
  writeFileSync(
    secretsFile,
    `${Object.entries(secretEnv(secrets))
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
    { mode: 0o600 },
  );

  const names = new Set(active.map((c) => c.name));
  const nodeDir = dirname(process.execPath);

  const ctx: FarmContext = {
    root: opts.root,
    runDir: opts.runDir,
    registryFile,
    sourceRegistryFile: opts.registry,
    port,
    secrets,
    has: (name) => names.has(name),
    flags: opts.flags,
    log: (m) => opts.log(`  ${m}`),
    env: (extra = {}) => ({
      ...process.env,
      PATH: `${nodeDir}:${process.env.PATH ?? ''}`,
      FARM_RUN_DIR: opts.runDir,
      FARM_REGISTRY: registryFile,
      FARM_BASE_PORT: String(opts.basePort),
      ...secretEnv(secrets),
      ...farmTelemetryEnv(opts.root, opts.runDir, process.env),
      ...extra,
    }),
    start: (p) =>
      startProcess({
        ...p,
        // Spans are named after the farm process unless the component names its service itself.
        env: p.env && { OTEL_SERVICE_NAME: p.name, ...p.env },
        logFile: resolve(opts.runDir, 'logs', p.logFile),
      }),
  };
  for (const c of active) if (c.enabled && !c.enabled(ctx)) names.delete(c.name);
  const run = active.filter((c) => names.has(c.name));

  const state: FarmState = {
    supervisorPid: process.pid,
    startedAt: new Date().toISOString(),
    basePort: opts.basePort,
    ready: false,
    processes: [],
    services: [],
  };
  const save = () => {
    state.processes = managedProcesses().map((p) => ({ name: p.name, pid: p.pid, logFile: p.logFile }));
    writeFileSync(join(opts.runDir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`);
  };
  const stop = async () => {
    const procs = managedProcesses().reverse();
    await Promise.all(procs.map((p) => p.stop(8000).catch(() => undefined)));
    rmSync(join(opts.runDir, STATE_FILE), { force: true });
  };

  opts.log(
    `› local farm: ${run.length} component${run.length === 1 ? '' : 's'} (${run.map((c) => c.name).join(', ')}), base port ${opts.basePort}, run folder ${relative(opts.root, opts.runDir) || '.'}`,
  );
  save();
  let i = 0;
  for (const c of run) {
    i++;
    const t0 = Date.now();
    opts.log(`› [${i}/${run.length}] ${c.name} ...`);
    try {
      const services = await c.start(ctx);
      state.services.push(...services);
      save();
      opts.log(`  ✓ ${c.name} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      opts.log(`  ✗ ${c.name} failed: ${(err as Error).message}`);
      opts.log('› stopping what was started ...');
      await stop();
      throw err;
    }
  }
  state.ready = true;
  save();
  return { services: state.services, stop };
}

/** The table `npm start` prints. */
export function servicesTable(services: FarmService[]): string {
  const rows = [['service', 'url', 'note'], ...services.map((s) => [s.name, s.url, s.note ?? ''])];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(rows[0] as string[]),
    widths.map((w) => '─'.repeat(w)).join('  '),
    ...rows.slice(1).map(line),
  ].join('\n');
}

/** Stops a farm recorded in `runDir`: asks its supervisor, then makes sure every recorded group is gone. */
export async function stopFarm(runDir: string, log: (l: string) => void): Promise<number> {
  const state = readState(runDir);
  if (!state) {
    log(`no farm is recorded in ${runDir}`);
    return 0;
  }
  if (alive(state.supervisorPid) && state.supervisorPid !== process.pid) {
    process.kill(state.supervisorPid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (alive(state.supervisorPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  }
  let killed = 0;
  for (const p of state.processes) {
    if (!alive(p.pid)) continue;
    killed++;
    for (const sig of ['SIGCONT', 'SIGTERM'] as const) {
      try {
        process.kill(-p.pid, sig);
      } catch {
        // gone
      }
    }
  }
  if (killed) {
    await new Promise((r) => setTimeout(r, 3000));
    for (const p of state.processes) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
  rmSync(join(runDir, STATE_FILE), { force: true });
  const left = state.processes.filter((p) => alive(p.pid));
  if (left.length) {
    log(`✗ still running: ${left.map((p) => `${p.name} (${p.pid})`).join(', ')}`);
    return 1;
  }
  log(
    `✓ farm stopped (${state.processes.length} process${state.processes.length === 1 ? '' : 'es'}); none left`,
  );
  return 0;
}

export type { ManagedProcess };
