/**
 * One Galera node (mariadbd with wsrep on, a one-node cluster) holding N WordPress databases:
 * how long creating them takes, the datadir's size and files, what touching every site's tables
 * does to the table cache and open files, how long a restart takes, and how long a mariabackup of
 * the datadir takes (what an SST by mariabackup copies). Defaults are the server's own except
 * `innodb_flush_log_at_trx_commit=2` (the farm's setting) so the figures are what an operator
 * gets without tuning.
 *
 *   node bench/src/scale/mariadb.ts <sites> [dir]   prints one JSON line of figures
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { GALERA_PROVIDER, installDatadir, tmpdirOf } from '@wpfarm/common/peers/galera';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { siteSchemaSql, WORDPRESS_TABLES } from './wordpress-schema.ts';

const run = promisify(execFile);

export interface MariadbFigures {
  sites: number;
  tables: number;
  create_s: number;
  create_sites_per_s: number;
  datadir_mb: number;
  datadir_files: number;
  /** Server settings that bound open tables and files (their defaults). */
  table_open_cache: number;
  table_definition_cache: number;
  innodb_open_files: number;
  open_files_limit: number;
  /** After one query on each of every site's tables. */
  open_tables: number;
  opened_tables: number;
  table_open_cache_misses: number;
  innodb_num_open_files: number;
  process_fds: number;
  rss_mb: number;
  touch_all_s: number;
  restart_ready_s: number;
  /** 1 when mariabackup with its default open-files limit copied the datadir, 0 when it failed. */
  backup_default_limit_ok: number;
  backup_s: number;
  backup_mb: number;
  /** The open-files limit the successful backup ran with (0: default; negative: needed but not allowed here). */
  backup_open_files_limit: number;
}

/** Pipes SQL into the `mariadb` client over the node's socket; resolves with its stdout. */
function sql(socket: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('mariadb', ['--no-defaults', '-uroot', `--socket=${socket}`, '-N', '-B'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`mariadb: ${err.trim()}`))));
    child.stdin.end(text);
  });
}

async function variables(socket: string, names: string[], kind: 'VARIABLES' | 'STATUS') {
  const out = await sql(
    socket,
    `SHOW GLOBAL ${kind} WHERE Variable_name IN (${names.map((n) => `'${n}'`).join(',')});`,
  );
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('\t'))
      .map(([k, v]) => [k?.toLowerCase(), Number(v)]),
  ) as Record<string, number>;
}

async function du(dir: string): Promise<{ mb: number; files: number }> {
  const { stdout } = await run('du', ['-sb', dir]);
  const files = readdirSync(dir, { recursive: true }).length;
  return { mb: Math.round(Number(stdout.split('\t')[0]) / 1024 / 1024), files };
}

const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;

export async function measureSchemas(opts: {
  sites: number;
  dir: string;
  log(message: string): void;
}): Promise<MariadbFigures> {
  const datadir = join(opts.dir, 'data');
  const socket = join(opts.dir, 'mysqld.sock');
  const port = await freePort();
  mkdirSync(opts.dir, { recursive: true });
  await installDatadir(datadir);
  const cnf = join(opts.dir, 'my.cnf');
  writeFileSync(
    cnf,
    `[mariadbd]
datadir=${datadir}
tmpdir=${tmpdirOf(datadir)}
socket=${socket}
pid-file=${join(opts.dir, 'mysqld.pid')}
port=${port}
bind-address=127.0.0.1
user=root
skip-name-resolve
skip-log-bin
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_flush_log_at_trx_commit=2
wsrep_on=ON
wsrep_provider=${GALERA_PROVIDER}
wsrep_cluster_name=scale
wsrep_cluster_address=gcomm://
wsrep_node_address=127.0.0.1
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${await freePort()};gcache.size=64M"
wsrep_sst_method=mariabackup
`,
  );
  const start = (): Promise<ManagedProcess> =>
    startProcess({
      name: 'mariadbd-scale',
      command: 'mariadbd',
      args: [`--defaults-file=${cnf}`, '--wsrep-new-cluster'],
      logFile: join(opts.dir, 'mariadbd.log'),
      ready: { tcp: port },
      readyTimeoutMs: 600_000,
    });
  let server = await start();
  try {
    const t0 = performance.now();
    const batch = 250;
    for (let i = 0; i < opts.sites; i += batch) {
      const text: string[] = [];
      for (let j = i; j < Math.min(opts.sites, i + batch); j++) text.push(siteSchemaSql(`wp_site${j}`));
      await sql(socket, text.join('\n'));
      opts.log(`mariadb: ${Math.min(opts.sites, i + batch)}/${opts.sites} WordPress databases created`);
    }
    const createS = (performance.now() - t0) / 1000;
    const size = await du(datadir);

    // One query on every table of every site: what a farm's traffic does to the table cache.
    const t1 = performance.now();
    const names = WORDPRESS_TABLES.map((t) => /CREATE TABLE (\w+)/.exec(t)?.[1] ?? '');
    for (let i = 0; i < opts.sites; i += batch) {
      const text: string[] = [];
      for (let j = i; j < Math.min(opts.sites, i + batch); j++)
        for (const t of names) text.push(`SELECT COUNT(*) FROM wp_site${j}.${t};`);
      await sql(socket, text.join('\n'));
    }
    const touchS = (performance.now() - t1) / 1000;
    const vars = await variables(
      socket,
      ['table_open_cache', 'table_definition_cache', 'innodb_open_files', 'open_files_limit'],
      'VARIABLES',
    );
    const status = await variables(
      socket,
      ['Open_tables', 'Opened_tables', 'Table_open_cache_misses', 'Innodb_num_open_files'],
      'STATUS',
    );
    const fds = readdirSync(`/proc/${server.pid}/fd`).length;
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))?.[1] ?? 0);

    opts.log('mariadb: restart ...');
    await server.stop(120_000);
    const t2 = performance.now();
    server = await start();
    await sql(socket, 'SELECT 1;');
    const restartS = (performance.now() - t2) / 1000;

    opts.log('mariadb: mariabackup of the datadir (what an SST copies) ...');
    // mariabackup opens every tablespace at once: with one .ibd per table, its default open-files
    // limit is too small past some thousands of sites and the SST fails ("Too many open files").
    // Tried first as configured, then with a limit above the tablespace count.
    const backupOnce = async (limit?: number) => {
      const target = join(opts.dir, `backup-${limit ?? 'default'}`);
      const t = performance.now();
      // Above the shell's hard limit (20,000 here) only prlimit (root) can raise it, as a
      // container's `ulimits: nofile` does.
      await run(
        limit ? 'prlimit' : 'mariadb-backup',
        [
          ...(limit ? [`--nofile=${limit}:${limit}`, 'mariadb-backup'] : []),
          '--backup',
          `--target-dir=${target}`,
          `--socket=${socket}`,
          '--user=root',
          `--datadir=${datadir}`,
          ...(limit ? [`--open-files-limit=${limit}`] : []),
        ],
        { maxBuffer: 256 * 1024 * 1024, timeout: 3_600_000 },
      );
      return { s: (performance.now() - t) / 1000, size: await du(target) };
    };
    let defaultOk = 1;
    let limit = 0;
    let b: Awaited<ReturnType<typeof backupOnce>>;
    try {
      b = await backupOnce();
    } catch (err) {
      defaultOk = 0;
      opts.log(
        `mariadb: backup with the default open-files limit failed: ${String(err).match(/Too many open files|FATAL ERROR[^\n]*/)?.[0] ?? 'see log'}`,
      );
      limit = opts.sites * WORDPRESS_TABLES.length + 10_000;
      try {
        b = await backupOnce(limit);
      } catch (again) {
        // No CAP_SYS_RESOURCE (an unprivileged container): the limit cannot be raised here.
        opts.log(`mariadb: backup with ${limit} open files could not run: ${String(again).split('\n')[0]}`);
        b = { s: Number.NaN, size: { mb: Number.NaN, files: 0 } };
        limit = -limit;
      }
    }
    const backupS = b.s;
    const backup = b.size;
    return {
      sites: opts.sites,
      tables: opts.sites * WORDPRESS_TABLES.length,
      create_s: round(createS),
      create_sites_per_s: round(opts.sites / createS),
      datadir_mb: size.mb,
      datadir_files: size.files,
      table_open_cache: vars.table_open_cache ?? 0,
      table_definition_cache: vars.table_definition_cache ?? 0,
      innodb_open_files: vars.innodb_open_files ?? 0,
      open_files_limit: vars.open_files_limit ?? 0,
      open_tables: status.open_tables ?? 0,
      opened_tables: status.opened_tables ?? 0,
      table_open_cache_misses: status.table_open_cache_misses ?? 0,
      innodb_num_open_files: status.innodb_num_open_files ?? 0,
      process_fds: fds,
      rss_mb: Math.round(rss / 1024),
      touch_all_s: round(touchS),
      restart_ready_s: round(restartS),
      backup_default_limit_ok: defaultOk,
      backup_s: round(backupS),
      backup_mb: backup.mb,
      backup_open_files_limit: limit,
    };
  } finally {
    await server.stop(120_000);
  }
}

if (import.meta.main) {
  const sites = Number(process.argv[2] ?? 500);
  const dir = process.argv[3] ?? join(tmpdir(), `scale-mariadb-${process.pid}`);
  const figures = await measureSchemas({ sites, dir, log: (m) => console.error(m) });
  console.log(JSON.stringify(figures));
}
