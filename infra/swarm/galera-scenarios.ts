/**
 * Galera recovery scenarios on a real Swarm, for the farm image's galera-entrypoint
 * (infra/docker/galera/): first start from empty volumes, a clean full stop, a crash of every node,
 * a joiner killed during its SST, a redeploy of the same files, a rolling restart of one node and a
 * quorum loss. Every scenario function takes a stack name and works on its `<stack>_galera-1..3`
 * services: the test stack this module renders from infra/stacks/db.yml (`renderTestStack`,
 * `deployStack`) or the farm's own `db` stack. Docker is driven through its CLI (./docker.ts).
 *
 * CLI (prints a table, exits 1 when a scenario fails; removes what it created unless --keep):
 *   node infra/swarm/galera-scenarios.ts [--stack gtest] [--image <galera image> | --build]
 *        [--base wpfarm-base/mariadb:10.11] [--only first-start,full-restart,...] [--keep] [--reuse]
 * On a failure it writes the stack's logs beside the rendered stack file (<scenario>-failure.log).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { docker, sleep, waitFor } from './docker.ts';

const INFRA = resolve(import.meta.dirname, '..');
const ROOT = resolve(INFRA, '..');
export const NODES = [1, 2, 3] as const;
/** The database the scenarios write their marks to (created on demand). */
const MARKS_DB = 'galera_scenarios';

export const service = (stack: string, n: number) => `${stack}_galera-${n}`;

/** The running container of a service's task, if any. */
export async function taskContainer(svc: string): Promise<string | undefined> {
  const r = await docker(
    ['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${svc}`, '--filter', 'status=running'],
    { timeoutMs: 15_000 },
  );
  return r.stdout.trim().split('\n').filter(Boolean)[0];
}

/** One statement (or several) as root over the node's socket (root@localhost has unix_socket). */
export async function sql(stack: string, n: number, statement: string, timeoutMs = 20_000): Promise<string> {
  const ctr = await taskContainer(service(stack, n));
  if (!ctr) throw new Error(`${service(stack, n)}: no running task`);
  const r = await docker(['exec', '-i', '-u', '0', ctr, 'mariadb', '-uroot', '-N', '-B'], {
    input: statement,
    timeoutMs,
  });
  return r.stdout;
}

export interface NodeStatus {
  state: number;
  clusterStatus: string;
  clusterSize: number;
  ready: string;
  clusterUuid: string;
  lastCommitted: number;
}

/** The node's wsrep status, or undefined when it does not answer (down, electing, in SST). */
export async function nodeStatus(stack: string, n: number): Promise<NodeStatus | undefined> {
  try {
    const out = await sql(
      stack,
      n,
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state','wsrep_cluster_status','wsrep_cluster_size','wsrep_ready','wsrep_cluster_state_uuid','wsrep_last_committed')",
      8_000,
    );
    const v = Object.fromEntries(
      out
        .trim()
        .split('\n')
        .map((l) => l.split('\t') as [string, string]),
    );
    return {
      state: Number(v.wsrep_local_state),
      clusterStatus: v.wsrep_cluster_status ?? '',
      clusterSize: Number(v.wsrep_cluster_size),
      ready: v.wsrep_ready ?? '',
      clusterUuid: v.wsrep_cluster_state_uuid ?? '',
      lastCommitted: Number(v.wsrep_last_committed),
    };
  } catch {
    return undefined;
  }
}

const synced = (s: NodeStatus | undefined, size: number) =>
  s?.state === 4 && s.clusterStatus === 'Primary' && s.clusterSize === size && s.ready === 'ON';

/**
 * Waits until all `size` nodes are Synced members of one Primary component of that size; returns
 * the milliseconds it took and the statuses. Throws with the last view on timeout.
 */
export async function waitSynced(
  stack: string,
  size = NODES.length,
  timeoutMs = 180_000,
): Promise<{ ms: number; statuses: NodeStatus[] }> {
  const t0 = Date.now();
  let last: (NodeStatus | undefined)[] = [];
  for (;;) {
    last = await Promise.all(NODES.slice(0, size).map((n) => nodeStatus(stack, n)));
    const uuids = new Set(last.map((s) => s?.clusterUuid));
    if (last.every((s) => synced(s, size)) && uuids.size === 1)
      return { ms: Date.now() - t0, statuses: last as NodeStatus[] };
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `${stack}: not all Synced after ${Math.round(timeoutMs / 1000)} s: ${last
          .map(
            (s, i) =>
              `galera-${i + 1}=${s ? `${s.clusterStatus}/${s.state}/size ${s.clusterSize}` : 'no answer'}`,
          )
          .join(', ')}`,
      );
    await sleep(1_000);
  }
}

/** Writes `rows` marks for a scenario through node `n` (commits before returning). */
export async function writeMarks(stack: string, scenario: string, rows = 1, n = 1): Promise<void> {
  await sql(
    stack,
    n,
    `CREATE DATABASE IF NOT EXISTS ${MARKS_DB};
     CREATE TABLE IF NOT EXISTS ${MARKS_DB}.marks (id BIGINT AUTO_INCREMENT PRIMARY KEY,
       scenario VARCHAR(64) NOT NULL, payload VARCHAR(255) NOT NULL, at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6));
     INSERT INTO ${MARKS_DB}.marks (scenario, payload) SELECT '${scenario}', REPEAT('x', 200) FROM ${MARKS_DB}.seq_1_to_${rows};`,
  );
}

/** Marks per scenario on one node (scenario → rows). */
async function marksOn(stack: string, n: number): Promise<Record<string, number>> {
  const out = await sql(stack, n, `SELECT scenario, COUNT(*) FROM ${MARKS_DB}.marks GROUP BY scenario`);
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [s, c] = l.split('\t');
        return [s!, Number(c)];
      }),
  );
}

/** Marks per scenario on every node; throws unless every node holds exactly `expected`. */
export async function checkMarks(stack: string, expected: Record<string, number>): Promise<void> {
  const want = JSON.stringify(Object.entries(expected).sort());
  for (const n of NODES) {
    const got = JSON.stringify(Object.entries(await marksOn(stack, n)).sort());
    if (got !== want) throw new Error(`galera-${n}: marks ${got}, expected ${want}`);
  }
}

/**
 * The entrypoint's lines of every task container of the service (running or exited: Swarm keeps a
 * few) since `since` (unix seconds). `docker logs` per container: `docker service logs` can hang
 * on a task whose container is gone.
 */
export async function entrypointLog(svc: string, since?: number): Promise<string[]> {
  const ids = (await docker(['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${svc}`])).stdout
    .trim()
    .split('\n')
    .filter(Boolean);
  const lines: string[] = [];
  for (const id of ids) {
    const r = await docker(['logs', ...(since ? ['--since', String(since)] : []), id], {
      timeoutMs: 30_000,
      allowFailure: true,
    });
    lines.push(...`${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.includes(' galera-entrypoint ')));
  }
  return lines.sort();
}

async function allLogs(stack: string, since?: number): Promise<string[]> {
  return (await Promise.all(NODES.map((n) => entrypointLog(service(stack, n), since)))).flat();
}

const bootstraps = (lines: string[]) => lines.filter((l) => l.includes('with --wsrep-new-cluster')).length;
const nowS = () => Math.floor(Date.now() / 1000) - 1;

async function runningTasks(stack: string): Promise<number> {
  let count = 0;
  for (const n of NODES) if (await taskContainer(service(stack, n))) count++;
  return count;
}

async function taskIds(stack: string): Promise<string[]> {
  const ids: string[] = [];
  for (const n of NODES) {
    const r = await docker(['service', 'ps', '-q', '--filter', 'desired-state=running', service(stack, n)], {
      timeoutMs: 15_000,
    });
    ids.push(r.stdout.trim());
  }
  return ids;
}

// ---- scenarios ----------------------------------------------------------------------------------

export interface ScenarioResult {
  name: string;
  ok: boolean;
  ms: number;
  detail: string;
}

/** (a) The stack was just deployed on empty volumes: all Synced, users made before any joiner. */
export async function firstStart(stack: string, timeoutMs = 240_000): Promise<string> {
  const { ms } = await waitSynced(stack, 3, timeoutMs);
  const lines = await allLogs(stack);
  const stamp = (l: string) => Date.parse(l.slice(0, 20));
  const created = lines.filter((l) => l.includes('first start: users created'));
  if (created.length !== 1) throw new Error(`expected one node to create the users, saw ${created.length}`);
  const joins = lines.filter((l) => l.includes('starting mariadbd to join'));
  if (joins.length < 2) throw new Error(`expected two joiners, saw ${joins.length}`);
  for (const j of joins)
    if (stamp(j) < stamp(created[0]!)) throw new Error(`a joiner started before the users existed: ${j}`);
  const inits = lines.filter((l) => l.includes('first start: initializing'));
  if (inits.length !== 1) throw new Error(`expected one node to initialize, saw ${inits.length}`);
  if (bootstraps(lines) !== 1) throw new Error(`expected one bootstrap, saw ${bootstraps(lines)}`);
  for (const n of NODES) {
    const users = (
      await sql(stack, n, "SELECT user FROM mysql.user WHERE user IN ('sst','monitor') ORDER BY user")
    )
      .trim()
      .split('\n');
    if (users.join(',') !== 'monitor,sst') throw new Error(`galera-${n}: users ${users.join(',')}`);
  }
  await writeMarks(stack, 'first-start', 1000);
  await waitSynced(stack, 3, 60_000);
  await checkMarks(stack, { 'first-start': 1000 });
  return `Synced ${Math.round(ms / 1000)} s after the check began; users created on ${created[0]!.split(' ')[2]!.replace(/:$/, '')} at ${created[0]!.slice(11, 19)}, joiners started ${joins.map((j) => j.slice(11, 19)).join(', ')}`;
}

/** (b) `docker service scale` every node to 0, then back to 1: Primary again, data intact. */
export async function fullRestart(stack: string, timeoutMs = 180_000): Promise<string> {
  const marks = await currentMarks(stack);
  await writeMarks(stack, 'full-restart', 10);
  marks['full-restart'] = (marks['full-restart'] ?? 0) + 10;
  const uuid = (await nodeStatus(stack, 1))?.clusterUuid;
  const since = nowS();
  const t0 = Date.now();
  await docker(['service', 'scale', '-d', ...NODES.map((n) => `${service(stack, n)}=0`)]);
  await waitFor(
    'every task to stop',
    async () => ((await runningTasks(stack)) === 0 ? true : undefined),
    180_000,
    1_000,
  );
  const stopped = Date.now();
  await docker(['service', 'scale', '-d', ...NODES.map((n) => `${service(stack, n)}=1`)]);
  const { ms } = await waitSynced(stack, 3, timeoutMs);
  const after = await nodeStatus(stack, 1);
  await checkMarks(stack, marks);
  const lines = await allLogs(stack, since);
  if (bootstraps(lines) !== 1) throw new Error(`expected one bootstrap, saw ${bootstraps(lines)}`);
  if (after?.clusterUuid !== uuid) throw new Error(`cluster uuid changed: ${uuid} → ${after?.clusterUuid}`);
  const leader = lines
    .find((l) => l.includes('with --wsrep-new-cluster'))
    ?.split(' ')[2]
    ?.replace(/:$/, '');
  return `stop ${Math.round((stopped - t0) / 1000)} s, start → Synced ${Math.round(ms / 1000)} s; ${leader} bootstrapped, same uuid, data intact`;
}

/** (c) SIGKILL every node: each recovers its position (--wsrep-recover), data intact. */
export async function crashAll(stack: string, timeoutMs = 240_000): Promise<string> {
  const marks = await currentMarks(stack);
  await writeMarks(stack, 'crash-all', 10);
  marks['crash-all'] = (marks['crash-all'] ?? 0) + 10;
  const since = nowS();
  const ctrs = (await Promise.all(NODES.map((n) => taskContainer(service(stack, n))))).filter(
    (c): c is string => Boolean(c),
  );
  await docker(['kill', '-s', 'KILL', ...ctrs]);
  const { ms } = await waitSynced(stack, 3, timeoutMs);
  await checkMarks(stack, marks);
  const lines = await allLogs(stack, since);
  const recovered = lines.filter((l) => l.includes('recovered position')).length;
  if (recovered < 3) throw new Error(`expected 3 recovered positions, saw ${recovered}`);
  if (bootstraps(lines) !== 1) throw new Error(`expected one bootstrap, saw ${bootstraps(lines)}`);
  return `killed → Synced ${Math.round(ms / 1000)} s (incl. Swarm's restart delay); ${recovered} positions recovered, data intact`;
}

/** (d) Empty one node's volume, start it, SIGKILL it while it receives SST: it rejoins later. */
export async function joinerCrashDuringSst(stack: string, n = 3, timeoutMs = 240_000): Promise<string> {
  const marks = await currentMarks(stack);
  // Some bulk so that the SST carries more than the system tables.
  await writeMarks(stack, 'joiner-crash', 20_000, n === 1 ? 2 : 1);
  marks['joiner-crash'] = (marks['joiner-crash'] ?? 0) + 20_000;
  const svc = service(stack, n);
  await docker(['service', 'scale', '-d', `${svc}=0`]);
  await waitFor(
    `${svc} to stop`,
    async () => ((await taskContainer(svc)) ? undefined : true),
    180_000,
    1_000,
  );
  const volume = `${stack}_galera_${n}`;
  await waitFor(
    `${volume} to be removable`,
    async () => {
      // The service's exited task containers still hold the volume.
      const old = await docker(['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${svc}`]);
      const ids = old.stdout.trim().split('\n').filter(Boolean);
      if (ids.length) await docker(['rm', ...ids], { allowFailure: true });
      return (await docker(['volume', 'rm', volume], { allowFailure: true })).status === 0 ? true : undefined;
    },
    60_000,
    1_000,
  );
  const since = nowS();
  const t0 = Date.now();
  await docker(['service', 'scale', '-d', `${svc}=1`]);
  const victim = await waitFor(
    `${svc} to be receiving SST`,
    async () => {
      const ctr = await taskContainer(svc);
      if (!ctr) return undefined;
      const r = await docker(['exec', ctr, 'test', '-e', '/var/lib/mysql/sst_in_progress'], {
        allowFailure: true,
        timeoutMs: 5_000,
      });
      return r.status === 0 ? ctr : undefined;
    },
    120_000,
    300,
  );
  await sleep(1_000);
  await docker(['kill', '-s', 'KILL', victim]);
  const killedAt = Date.now();
  const { ms } = await waitSynced(stack, 3, timeoutMs);
  await checkMarks(stack, marks);
  const lines = await entrypointLog(svc, since);
  const interrupted = lines.some((l) => l.includes('interrupted SST'));
  const stalePid = lines.some((l) => l.includes('removed stale'));
  if (!interrupted) throw new Error('the restarted joiner did not see its interrupted SST');
  return `killed ${Math.round((killedAt - t0) / 1000)} s into its start (sst_in_progress), Synced ${Math.round(ms / 1000)} s after the kill; next start saw the interrupted SST${stalePid ? ' and removed the stale wsrep_sst.pid' : ''}, joined by SST, data intact`;
}

/** A rolling restart of one node (`docker service update --force`): it rejoins by IST, no election. */
export async function rollingRestart(stack: string, n = 2, timeoutMs = 180_000): Promise<string> {
  const marks = await currentMarks(stack);
  await writeMarks(stack, 'rolling-restart', 10);
  marks['rolling-restart'] = (marks['rolling-restart'] ?? 0) + 10;
  const svc = service(stack, n);
  const before = await taskContainer(svc);
  const since = nowS();
  const t0 = Date.now();
  // Detached: without -d the CLI also waits out update_config.monitor (60 s) after the task is up.
  await docker(['service', 'update', '-d', '--force', svc]);
  await waitFor(
    `a new ${svc} task`,
    async () => {
      const now = await taskContainer(svc);
      return now && now !== before ? now : undefined;
    },
    timeoutMs,
    1_000,
  );
  const { ms } = await waitSynced(stack, 3, timeoutMs);
  const total = Date.now() - t0;
  await checkMarks(stack, marks);
  const lines = await allLogs(stack, since);
  if (bootstraps(lines) !== 0) throw new Error('a node bootstrapped during a rolling restart');
  if (!lines.some((l) => l.includes('join: '))) throw new Error(`galera-${n} did not log its join decision`);
  const health = await waitFor(
    `${svc} healthy`,
    async () => {
      const ctr = await taskContainer(svc);
      const r = ctr ? await docker(['inspect', '-f', '{{.State.Health.Status}}', ctr]) : undefined;
      return r?.stdout.trim() === 'healthy' ? Date.now() - t0 : undefined;
    },
    60_000,
    1_000,
  );
  const ctr = await taskContainer(svc);
  const log = ctr ? await docker(['logs', ctr], { allowFailure: true }) : undefined;
  const how = /Running IST|IST received/.test(`${log?.stdout}${log?.stderr}`) ? 'IST' : 'SST';
  return `update → all Synced ${Math.round(total / 1000)} s (last ${Math.round(ms / 1000)} s of it waiting for the rejoin), task healthy after ${Math.round(health / 1000)} s; joined by ${how}, no election`;
}

/** (e) `docker stack deploy` again with the same files: no task restarts, no second bootstrap. */
export async function redeploy(
  stack: string,
  deploy: () => Promise<void>,
  settleMs = 30_000,
): Promise<string> {
  const before = await taskIds(stack);
  const uuid = (await nodeStatus(stack, 1))?.clusterUuid;
  const since = nowS();
  await deploy();
  const until = Date.now() + settleMs;
  while (Date.now() < until) {
    const statuses = await Promise.all(NODES.map((n) => nodeStatus(stack, n)));
    if (!statuses.every((s) => synced(s, 3) && s?.clusterUuid === uuid))
      throw new Error(`after the redeploy: ${JSON.stringify(statuses)}`);
    await sleep(2_000);
  }
  const after = await taskIds(stack);
  if (after.join() !== before.join()) throw new Error(`tasks restarted: ${before} → ${after}`);
  const lines = await allLogs(stack, since);
  if (bootstraps(lines) !== 0) throw new Error('a node bootstrapped after the redeploy');
  return `same ${after.length} tasks, all Synced in one Primary component (uuid unchanged) for ${settleMs / 1000} s`;
}

/**
 * (f) The incident: two nodes die at once, the survivor is left non-Primary. The dead ones come
 * back and wait; the survivor's health check fails, Swarm restarts it, and the election brings
 * the cluster back without an operator.
 */
export async function quorumLoss(stack: string, timeoutMs = 300_000): Promise<string> {
  const marks = await currentMarks(stack);
  await writeMarks(stack, 'quorum-loss', 10);
  marks['quorum-loss'] = (marks['quorum-loss'] ?? 0) + 10;
  const since = nowS();
  const ctrs = await Promise.all([2, 3].map((n) => taskContainer(service(stack, n))));
  await docker(['kill', '-s', 'KILL', ...ctrs.filter((c): c is string => Boolean(c))]);
  await waitFor(
    'galera-1 to be non-Primary',
    async () => ((await nodeStatus(stack, 1))?.clusterStatus === 'non-Primary' ? true : undefined),
    60_000,
    1_000,
  );
  const { ms } = await waitSynced(stack, 3, timeoutMs);
  await checkMarks(stack, marks);
  const lines = await allLogs(stack, since);
  if (bootstraps(lines) !== 1) throw new Error(`expected one bootstrap, saw ${bootstraps(lines)}`);
  return `galera-1 left non-Primary; Synced again ${Math.round(ms / 1000)} s after the kill, no manual step, data intact`;
}

async function currentMarks(stack: string): Promise<Record<string, number>> {
  try {
    return await marksOn(stack, 1);
  } catch {
    return {};
  }
}

// ---- the test stack -----------------------------------------------------------------------------

export interface TestStackOptions {
  /** Swarm stack name; every object it creates starts with it (default gtest). */
  stack?: string;
  /** The farm Galera image to run. */
  image: string;
  /** Where the rendered stack file goes (default: a directory under the OS temp dir). */
  dir?: string;
  /** Overlay encryption of the galera network as in db.yml (IPsec; default true). */
  encrypted?: boolean;
  /** Extra services/secrets/configs merged into the stack (e.g. the ProxySQL stand-in). */
  extra?: (doc: StackFile, stack: string) => void;
}

export interface StackFile {
  version: string;
  services: Record<string, Record<string, unknown>>;
  networks: Record<string, unknown>;
  volumes: Record<string, unknown>;
  secrets: Record<string, unknown>;
  configs?: Record<string, unknown>;
}

/** The external secrets the Galera services mount (created with random values when missing). */
export const EXTERNAL_SECRETS = ['db_root', 'galera_sst', 'proxysql_monitor'] as const;

/**
 * The test stack: db.yml's three Galera services (command, health check, grace period, update and
 * restart policies, secret mounts, templates all as in production), with the test image, small
 * memory (buffer pool 128M, gcache 64M, in a copy of galera.cnf.tmpl), no placement, and the
 * stack's own secrets. Returns the file path.
 */
export function renderTestStack(opts: TestStackOptions): string {
  const stack = opts.stack ?? 'gtest';
  const dir = opts.dir ?? join(tmpdir(), `${stack}-galera`);
  mkdirSync(dir, { recursive: true });
  const db = parse(readFileSync(join(INFRA, 'stacks/db.yml'), 'utf8'), { merge: true }) as StackFile;
  const cnf = readFileSync(join(INFRA, 'stacks/galera/galera.cnf.tmpl'), 'utf8')
    .replace(/^innodb_buffer_pool_size = .*$/m, 'innodb_buffer_pool_size = 128M')
    .replace(/^max_connections = .*$/m, 'max_connections = 200')
    .replace('gcache.size=2G', 'gcache.size=64M');
  const cnfFile = join(dir, 'galera-test.cnf.tmpl');
  writeFileSync(cnfFile, cnf);
  const hash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 10);
  const init = readFileSync(join(INFRA, 'stacks/galera/init.sql.tmpl'), 'utf8');
  const out: StackFile = {
    version: '3.9',
    services: {},
    networks: {
      galera: {
        driver: 'overlay',
        ...(opts.encrypted === false ? {} : { driver_opts: { encrypted: 'true' } }),
      },
    },
    volumes: {},
    secrets: {
      ...Object.fromEntries(EXTERNAL_SECRETS.map((s) => [s, { external: true, name: `${stack}_${s}_v1` }])),
      galera_cnf: { name: `${stack}_galera_cnf_${hash(cnf)}`, file: cnfFile, template_driver: 'golang' },
      galera_init_sql: {
        name: `${stack}_galera_init_sql_${hash(init)}`,
        file: join(INFRA, 'stacks/galera/init.sql.tmpl'),
        template_driver: 'golang',
      },
    },
  };
  for (const n of NODES) {
    const svc = structuredClone(db.services[`galera-${n}`]!) as Record<string, unknown> & {
      deploy: Record<string, unknown>;
    };
    svc.image = opts.image;
    svc.networks = ['galera'];
    delete svc.deploy.placement;
    svc.deploy.resources = { limits: { cpus: '1.0', memory: '1G' } };
    out.services[`galera-${n}`] = svc;
    out.volumes[`galera_${n}`] = {};
  }
  opts.extra?.(out, stack);
  const file = join(dir, `${stack}.yml`);
  writeFileSync(file, stringify(out));
  return file;
}

/** Creates the stack's external secrets (random hex values, on stdin) that do not exist yet. */
export async function ensureSecrets(
  stack: string,
  names: readonly string[] = EXTERNAL_SECRETS,
): Promise<void> {
  for (const s of names) {
    const name = `${stack}_${s}_v1`;
    if ((await docker(['secret', 'inspect', name], { allowFailure: true })).status === 0) continue;
    await docker(['secret', 'create', name, '-'], { input: randomBytes(16).toString('hex') });
  }
}

export async function deployStack(stack: string, file: string): Promise<void> {
  await docker(['stack', 'deploy', '-c', file, stack], { timeoutMs: 120_000 });
}

/** Removes the stack, then its volumes and its external secrets (only names starting with `stack_`). */
export async function removeTestStack(
  stack: string,
  secrets: readonly string[] = EXTERNAL_SECRETS,
): Promise<void> {
  await docker(['stack', 'rm', stack], { allowFailure: true, timeoutMs: 60_000 });
  await waitFor(
    `${stack}'s containers to go`,
    async () => {
      const r = await docker(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${stack}`]);
      return r.stdout.trim() ? undefined : true;
    },
    240_000,
    1_000,
  );
  for (const n of NODES) await docker(['volume', 'rm', `${stack}_galera_${n}`], { allowFailure: true });
  for (const s of secrets) await docker(['secret', 'rm', `${stack}_${s}_v1`], { allowFailure: true });
  await waitFor(
    `${stack}'s network to go`,
    async () => {
      const r = await docker([
        'network',
        'ls',
        '-q',
        '--filter',
        `label=com.docker.stack.namespace=${stack}`,
      ]);
      return r.stdout.trim() ? undefined : true;
    },
    60_000,
    1_000,
  );
}

/** Writes every task container's entrypoint lines and last log lines of the stack's Galera services. */
export async function dumpDiagnostics(stack: string, file: string): Promise<void> {
  const parts: string[] = [];
  for (const n of NODES) {
    const svc = service(stack, n);
    const ps = await docker(['service', 'ps', '--no-trunc', svc], { allowFailure: true });
    parts.push(`==== ${svc}: tasks\n${ps.stdout}`);
    const ids = (await docker(['ps', '-aq', '--filter', `label=com.docker.swarm.service.name=${svc}`])).stdout
      .trim()
      .split('\n')
      .filter(Boolean);
    for (const id of ids) {
      const r = await docker(['logs', '--tail', '400', id], { allowFailure: true, timeoutMs: 30_000 });
      const lines = `${r.stdout}\n${r.stderr}`.split('\n');
      const state = await docker(
        [
          'inspect',
          '-f',
          '{{.State.Status}} exit={{.State.ExitCode}} health={{if .State.Health}}{{.State.Health.Status}}{{end}}',
          id,
        ],
        {
          allowFailure: true,
        },
      );
      parts.push(
        `---- ${svc} container ${id} ${state.stdout.trim()}\n${lines
          .filter((l) => /galera-entrypoint|\[ERROR\]|WSREP_SST: \[ERROR|signal|Synced|SST|Aborting/.test(l))
          .join('\n')}\n-- last 40 lines:\n${lines.slice(-40).join('\n')}`,
      );
    }
  }
  writeFileSync(file, parts.join('\n'));
}

// ---- CLI ----------------------------------------------------------------------------------------

const SCENARIOS = [
  'first-start',
  'full-restart',
  'crash-all',
  'joiner-crash',
  'redeploy',
  'rolling-restart',
  'quorum-loss',
] as const;

async function main(argv: string[]): Promise<number> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const stack = arg('stack') ?? 'gtest';
  if (!/^gtest/.test(stack) && !argv.includes('--any-name'))
    throw new Error(
      `--stack ${stack}: the CLI deploys and removes its own stack; its name must start with gtest`,
    );
  const base = arg('base') ?? 'wpfarm-base/mariadb:10.11';
  let image = arg('image') ?? `${stack}-galera:local`;
  const only = (arg('only') ?? SCENARIOS.join(',')).split(',');
  for (const o of only)
    if (!(SCENARIOS as readonly string[]).includes(o)) throw new Error(`unknown scenario ${o}`);
  const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

  if (argv.includes('--build') || !arg('image')) {
    image = arg('image') ?? image;
    log(`building ${image} from infra/docker/galera.Dockerfile on ${base}`);
    const t = Date.now();
    await docker(
      [
        'build',
        '-q',
        '-f',
        'infra/docker/galera.Dockerfile',
        '--build-arg',
        `MARIADB_IMAGE=${base}`,
        '-t',
        image,
        ROOT,
      ],
      { timeoutMs: 600_000, env: { ...process.env, DOCKER_BUILDKIT: '0' } },
    );
    log(`built in ${Math.round((Date.now() - t) / 1000)} s`);
  }

  const file = renderTestStack({ stack, image });
  const results: ScenarioResult[] = [];
  const run = async (name: string, fn: () => Promise<string>) => {
    if (!only.includes(name)) return;
    log(`${name} …`);
    const t = Date.now();
    try {
      const detail = await fn();
      results.push({ name, ok: true, ms: Date.now() - t, detail });
      log(`${name}: ok in ${Math.round((Date.now() - t) / 1000)} s: ${detail}`);
    } catch (err) {
      const dump = join(dirname(file), `${name}-failure.log`);
      await dumpDiagnostics(stack, dump).catch(() => {});
      results.push({
        name,
        ok: false,
        ms: Date.now() - t,
        detail: `${(err as Error).message} (logs: ${dump})`,
      });
      log(
        `${name}: FAILED in ${Math.round((Date.now() - t) / 1000)} s: ${(err as Error).message}; logs in ${dump}`,
      );
    }
  };

  try {
    // --reuse: run against the stack left by an earlier --keep (no first start).
    if (!argv.includes('--reuse')) {
      await removeTestStack(stack);
      await ensureSecrets(stack);
      const t0 = Date.now();
      await deployStack(stack, file);
      await run(
        'first-start',
        async () =>
          `${await firstStart(stack)}; deploy → all Synced ${Math.round((Date.now() - t0) / 1000)} s`,
      );
    }
    if (!only.includes('first-start') || argv.includes('--reuse')) await waitSynced(stack, 3, 240_000);
    await run('full-restart', () => fullRestart(stack));
    await run('crash-all', () => crashAll(stack));
    await run('joiner-crash', () => joinerCrashDuringSst(stack, 3));
    await run('redeploy', () => redeploy(stack, () => deployStack(stack, file)));
    await run('rolling-restart', () => rollingRestart(stack, 2));
    await run('quorum-loss', () => quorumLoss(stack));
  } finally {
    if (argv.includes('--keep')) log(`kept stack ${stack} (${file})`);
    else await removeTestStack(stack);
  }

  const w = Math.max(...results.map((r) => r.name.length), 8);
  console.log(`${'scenario'.padEnd(w)}  result  seconds  detail`);
  for (const r of results)
    console.log(
      `${r.name.padEnd(w)}  ${(r.ok ? 'ok' : 'FAILED').padEnd(6)}  ${String(Math.round(r.ms / 1000)).padStart(7)}  ${r.detail}`,
    );
  return results.every((r) => r.ok) ? 0 : 1;
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(2);
    },
  );
}
