/**
 * A real MariaDB Galera cluster (1 or 3 nodes) on loopback, for tests, the local farm and the
 * benchmark. Each node has its own datadir, client port, gcomm port, IST port and SST port; the
 * first bootstraps with `--wsrep-new-cluster`, the others join by SST (`mariabackup`: `rsync` SST
 * fails here as root with "Permission denied" on ibdata1). Also starts a plain (non-Galera)
 * mariadbd, used to host the ProxySQL admin stand-in.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  freePort,
  type ManagedProcess,
  type ProcessOptions,
  startProcess,
  tail,
} from '@wpfarm/common/process/managed';
import mysql from 'mysql2/promise';

const run = promisify(execFile);

/** The Galera provider shipped by Debian's galera-4. */
export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';

/** Ports of one node; every one must be distinct on the machine. */
export interface GaleraPorts {
  port: number;
  gcomm: number;
  ist: number;
  sst: number;
}

export interface GaleraOptions {
  /** Parent folder: one sub-folder per node. */
  dir: string;
  /** 1 or 3 (default 3). */
  nodes?: number;
  /** Fixed ports per node (the farm); free ports are picked when absent. */
  ports?: GaleraPorts[];
  /** How processes are started (the farm passes ctx.start); default startProcess. */
  start?: (opts: ProcessOptions) => Promise<ManagedProcess>;
  /** Log file per node; default `<dir>/node-N/mariadbd.log`. */
  logFile?: (index: number) => string;
  clusterName?: string;
  /** Milliseconds to wait for the cluster to be Synced (default 120 s). */
  readyTimeoutMs?: number;
  /** Password of the `health` user created on bootstrap (default HEALTH_USER.password). */
  healthPassword?: string;
}

/** One node of the cluster, controllable by tests (kill, freeze, restart). */
export interface GaleraNode {
  readonly index: number;
  readonly name: string;
  readonly ports: GaleraPorts;
  readonly datadir: string;
  readonly socket: string;
  /** The running process, or undefined while it is down. */
  readonly process: ManagedProcess | undefined;
  /** Starts the node (joining the cluster) if it is down, and waits for it to be Synced. */
  start(): Promise<void>;
  /** Clean shutdown. */
  stop(): Promise<void>;
  /** SIGKILL, no shutdown: a crash. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a hung server that still holds its sockets. */
  pause(): void;
  resume(): void;
  /** Runs one statement as root over the node's socket (fresh connection, 5 s timeout). */
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T>;
}

export interface GaleraCluster {
  nodes: GaleraNode[];
  stop(): Promise<void>;
}

/** Credentials of the user the checker and the benchmark use (created on bootstrap). */
export const HEALTH_USER = { user: 'health', password: 'health-test-password' };

const INSTALL_TIMEOUT_MS = 60_000;

/**
 * Each server's own temporary directory, beside its datadir. A shared /tmp is not safe: a
 * starting mariadbd deletes the `#sql*` files it finds in its tmpdir, including those of another
 * server bootstrapping at the same moment (seen as "Unknown table 'mysql.tmp_user_sys'").
 */
export const tmpdirOf = (datadir: string): string => join(dirname(datadir), 'tmp');

/** Creates a fresh datadir with mariadb-install-db (root uses a password-less native login). */
export async function installDatadir(datadir: string): Promise<void> {
  mkdirSync(tmpdirOf(datadir), { recursive: true });
  if (existsSync(join(datadir, 'mysql'))) return;
  mkdirSync(datadir, { recursive: true });
  await run(
    'mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--tmpdir=${tmpdirOf(datadir)}`,
      '--user=root',
      '--skip-test-db',
      '--auth-root-authentication-method=normal',
      '--skip-name-resolve',
    ],
    { timeout: INSTALL_TIMEOUT_MS },
  );
}

function galeraConfig(i: number, n: number, dir: string, all: GaleraPorts[], clusterName: string): string {
  const p = all[i] as GaleraPorts;
  const gcomm = all.map((q) => `127.0.0.1:${q.gcomm}`).join(',');
  // Short EVS timeouts so a killed or frozen node leaves the component in seconds (tests, farm).
  const provider = [
    `gmcast.listen_addr=tcp://127.0.0.1:${p.gcomm}`,
    `ist.recv_addr=127.0.0.1:${p.ist}`,
    'gcache.size=64M',
    'evs.keepalive_period=PT0.5S',
    'evs.suspect_timeout=PT3S',
    'evs.inactive_timeout=PT5S',
    'evs.inactive_check_period=PT0.5S',
    'evs.install_timeout=PT5S',
    'pc.recovery=false',
  ].join(';');
  return `[mariadbd]
datadir=${join(dir, 'data')}
tmpdir=${tmpdirOf(join(dir, 'data'))}
socket=${join(dir, 'mysqld.sock')}
pid-file=${join(dir, 'mysqld.pid')}
port=${p.port}
bind-address=127.0.0.1
user=root
skip-name-resolve
skip-log-bin
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_flush_log_at_trx_commit=2
max_connections=200
wsrep_on=ON
wsrep_provider=${GALERA_PROVIDER}
wsrep_cluster_name=${clusterName}
wsrep_cluster_address=gcomm://${n === 1 ? '' : gcomm}
wsrep_node_address=127.0.0.1
wsrep_node_name=node-${i + 1}
wsrep_provider_options="${provider}"
wsrep_sst_receive_address=127.0.0.1:${p.sst}
wsrep_sst_method=mariabackup
wsrep_sst_auth=root:
wsrep_slave_threads=2
`;
}

/** Opens a root connection over a node's Unix socket. */
export function rootConnection(socket: string, timeoutMs = 5000): Promise<mysql.Connection> {
  return mysql.createConnection({
    socketPath: socket,
    user: 'root',
    password: '',
    connectTimeout: timeoutMs,
  });
}

async function queryOnce<T>(socket: string, sql: string, params?: unknown[], timeoutMs = 5000): Promise<T> {
  const conn = await rootConnection(socket, timeoutMs);
  try {
    const [rows] = await conn.query({ sql, timeout: timeoutMs }, params);
    return rows as T;
  } finally {
    conn.destroy();
  }
}

async function localState(socket: string): Promise<number | undefined> {
  try {
    const rows = await queryOnce<{ Value: string }[]>(
      socket,
      "SHOW GLOBAL STATUS LIKE 'wsrep_local_state'",
      [],
      1000,
    );
    return rows[0] ? Number(rows[0].Value) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts a Galera cluster and resolves once every node reports `wsrep_local_state` = 4 (Synced).
 * @example const cluster = await startGalera({ dir: await mkdtemp('/tmp/galera-') });
 */
export async function startGalera(opts: GaleraOptions): Promise<GaleraCluster> {
  const n = opts.nodes ?? 3;
  if (n !== 1 && n !== 3) throw new Error(`startGalera: nodes must be 1 or 3 (got ${n})`);
  const start = opts.start ?? startProcess;
  const clusterName = opts.clusterName ?? 'wpfarm';
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const healthPassword = opts.healthPassword ?? HEALTH_USER.password;
  if (!/^[A-Za-z0-9_.-]{8,128}$/.test(healthPassword))
    throw new Error('startGalera: healthPassword must be 8-128 characters of [A-Za-z0-9_.-]');
  const ports: GaleraPorts[] = [];
  for (let i = 0; i < n; i++) {
    ports.push(
      opts.ports?.[i] ?? {
        port: await freePort(),
        gcomm: await freePort(),
        ist: await freePort(),
        sst: await freePort(),
      },
    );
  }

  const nodes: GaleraNode[] = [];
  for (let i = 0; i < n; i++) {
    const dir = join(opts.dir, `node-${i + 1}`);
    mkdirSync(tmpdirOf(join(dir, 'data')), { recursive: true });
    const cnf = join(dir, 'my.cnf');
    writeFileSync(cnf, galeraConfig(i, n, dir, ports, clusterName));
    const socket = join(dir, 'mysqld.sock');
    const datadir = join(dir, 'data');
    const logFile = opts.logFile?.(i) ?? join(dir, 'mariadbd.log');
    let proc: ManagedProcess | undefined;
    const name = `galera-${i + 1}`;
    const launch = async (bootstrap: boolean) => {
      const args = [`--defaults-file=${cnf}`];
      if (bootstrap) args.push('--wsrep-new-cluster');
      proc = await start({
        name,
        command: 'mariadbd',
        args,
        logFile,
        // Synced, not just listening: a joiner accepts TCP before its SST is done.
        ready: { check: async () => (await localState(socket)) === 4 },
        readyTimeoutMs,
      });
      const p = proc;
      void p.exited.then(() => {
        if (proc === p) proc = undefined;
      });
    };
    const node: GaleraNode = {
      index: i,
      name,
      ports: ports[i] as GaleraPorts,
      datadir,
      socket,
      get process() {
        return proc;
      },
      async start() {
        if (proc) return;
        await installDatadir(datadir);
        await launch(false);
      },
      async stop() {
        await proc?.stop(30_000);
        proc = undefined;
      },
      async kill() {
        const p = proc;
        if (!p) return;
        p.signal('SIGKILL');
        await p.exited;
        proc = undefined;
      },
      pause: () => proc?.pause(),
      resume: () => proc?.resume(),
      query: (sql, params) => queryOnce(socket, sql, params),
    };
    nodes.push(node);
    // Bootstrap node: launch here; joiners below, one at a time (one SST donor at a time).
    if (i === 0) {
      await installDatadir(datadir);
      await launch(true);
      await node.query(
        `CREATE USER IF NOT EXISTS '${HEALTH_USER.user}'@'127.0.0.1' IDENTIFIED BY '${healthPassword}'`,
      );
      await node.query(
        `CREATE USER IF NOT EXISTS '${HEALTH_USER.user}'@'localhost' IDENTIFIED BY '${healthPassword}'`,
      );
    }
  }
  const cluster: GaleraCluster = {
    nodes,
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
  try {
    for (const node of nodes.slice(1)) await node.start();
    await waitClusterSize(nodes, n, readyTimeoutMs);
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  return cluster;
}

/** Waits until every running node sees `size` members and is Synced. */
export async function waitClusterSize(nodes: GaleraNode[], size: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok = true;
    for (const node of nodes) {
      if (!node.process) continue;
      try {
        const rows = await queryOnce<{ Variable_name: string; Value: string }[]>(
          node.socket,
          "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size','wsrep_local_state')",
          [],
          1000,
        );
        const v = Object.fromEntries(rows.map((r) => [r.Variable_name, r.Value]));
        if (Number(v.wsrep_cluster_size) !== size || Number(v.wsrep_local_state) !== 4) ok = false;
      } catch {
        ok = false;
      }
    }
    if (ok) return;
    if (Date.now() > deadline) {
      const logs = await Promise.all(
        nodes.map(async (x) => `${x.name}:\n${await tail(x.process?.logFile ?? '', 10)}`),
      );
      throw new Error(`galera: cluster size ${size} not reached in ${timeoutMs} ms\n${logs.join('\n')}`);
    }
    await sleep(200);
  }
}

/** A plain (non-Galera) mariadbd on loopback: hosts the ProxySQL admin stand-in. */
export interface PlainMariadb {
  port: number;
  socket: string;
  process: ManagedProcess;
  stop(): Promise<void>;
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T>;
}

/** Starts a plain mariadbd with data in `dir`. */
export async function startPlainMariadb(opts: {
  dir: string;
  port?: number;
  name?: string;
  start?: (o: ProcessOptions) => Promise<ManagedProcess>;
  logFile?: string;
}): Promise<PlainMariadb> {
  const port = opts.port ?? (await freePort());
  const datadir = join(opts.dir, 'data');
  const socket = join(opts.dir, 'mysqld.sock');
  await installDatadir(datadir);
  const proc = await (opts.start ?? startProcess)({
    name: opts.name ?? 'mariadb',
    command: 'mariadbd',
    args: [
      '--no-defaults',
      `--datadir=${datadir}`,
      `--tmpdir=${tmpdirOf(datadir)}`,
      `--socket=${socket}`,
      `--pid-file=${join(opts.dir, 'mysqld.pid')}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      '--user=root',
      '--skip-name-resolve',
      '--skip-log-bin',
      '--innodb-buffer-pool-size=16M',
    ],
    logFile: opts.logFile ?? join(opts.dir, 'mariadbd.log'),
    ready: { check: async () => (await queryOnce<unknown[]>(socket, 'SELECT 1', [], 1000)).length === 1 },
    readyTimeoutMs: 60_000,
  });
  return {
    port,
    socket,
    process: proc,
    stop: () => proc.stop(30_000),
    query: (sql, params) => queryOnce(socket, sql, params),
  };
}
