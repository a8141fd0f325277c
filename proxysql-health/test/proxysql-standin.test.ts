/**
 * The ProxySQL side, against proxysql-admin-standin (ProxySQL 2.x's admin tables as a MariaDB
 * schema in a plain mariadbd: ProxySQL cannot be installed here), with a real 1-node Galera as the
 * local MariaDB. Also runs server.ts as a real process to check where credentials go.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type GaleraCluster,
  HEALTH_USER,
  type PlainMariadb,
  rootConnection,
  startGalera,
  startPlainMariadb,
} from '@wpfarm/common/peers/galera';
import { freePort, startProcess } from '@wpfarm/common/process/managed';
import { rawRequest } from '@wpfarm/common/testing/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HOSTGROUPS,
  installStandin,
  STANDIN_STATS_USER,
  setPoolStatus,
} from '../src/standins/proxysql-admin-standin.ts';
import {
  afterRounds,
  type Checker,
  firstRoundAfter,
  probe,
  startChecker,
  waitFor,
  waitStatus,
} from './harness.ts';

let dir: string;
let galera: GaleraCluster;
let admin: PlainMariadb;
let c: Checker;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ph-proxysql-'));
  [galera, admin] = await Promise.all([
    startGalera({ dir: join(dir, 'galera'), nodes: 1 }),
    startPlainMariadb({ dir: join(dir, 'standin'), name: 'proxysql-admin-standin' }),
  ]);
  const n = galera.nodes[0];
  await installStandin(admin.query, [{ host: '127.0.0.1', port: n?.ports.port ?? 0 }]);
  c = await startChecker({
    MYSQL_PORT: String(n?.ports.port),
    HEALTH_EXPECTED_CLUSTER_SIZE: '1',
    PROXYSQL_ADMIN_HOST: '127.0.0.1',
    PROXYSQL_ADMIN_PORT: String(admin.port),
    PROXYSQL_ADMIN_USER: STANDIN_STATS_USER.user,
    PROXYSQL_ADMIN_PASSWORD: STANDIN_STATS_USER.password,
  });
}, 120_000);

afterAll(async () => {
  await c?.close();
  await Promise.all([galera?.stop(), admin?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('ProxySQL verdicts (against proxysql-admin-standin)', () => {
  it('a writer and a reader ONLINE → 200', async () => {
    const p = await waitStatus(c, 200);
    expect(p.body.reasons).toEqual([]);
  });

  it('no ONLINE writer → 503 at once, back to 200 when it returns', async () => {
    await setPoolStatus(admin.query, HOSTGROUPS.writer, 'SHUNNED');
    try {
      await afterRounds(c, 2);
      const p = await probe(c);
      expect(p.status).toBe(503);
      expect(p.body.reasons).toEqual(['proxysql_no_online_writer']);
      expect((await probe(c, '/health/reader')).status).toBe(503);
    } finally {
      await setPoolStatus(admin.query, HOSTGROUPS.writer, 'ONLINE');
    }
    await waitStatus(c, 200);
  });

  it('all readers SHUNNED → degraded (still 200)', async () => {
    await setPoolStatus(admin.query, HOSTGROUPS.reader, 'SHUNNED');
    try {
      await afterRounds(c, 2);
      const p = await probe(c);
      expect(p.status).toBe(200);
      expect(p.body.verdict).toBe('degraded');
      expect(p.body.reasons).toContain('proxysql_readers_all_shunned');
    } finally {
      await setPoolStatus(admin.query, HOSTGROUPS.reader, 'ONLINE');
    }
    await waitFor('reasons cleared', async () => (await probe(c)).body.reasons.length === 0);
  });

  it('server.ts as a process: password from a file, never in argv or its log', async () => {
    const pwFile = join(dir, 'mysql-password');
    await writeFile(pwFile, `${HEALTH_USER.password}\n`, { mode: 0o600 });
    const port = await freePort();
    const logFile = join(dir, 'server.log');
    const proc = await startProcess({
      name: 'proxysql-health',
      command: process.execPath,
      args: [new URL('../src/server.ts', import.meta.url).pathname],
      env: {
        PATH: process.env.PATH,
        HOST: '127.0.0.1',
        PORT: String(port),
        MYSQL_HOST: '127.0.0.1',
        MYSQL_PORT: String(galera.nodes[0]?.ports.port),
        MYSQL_USER: HEALTH_USER.user,
        MYSQL_PASSWORD_FILE: pwFile,
        HEALTH_EXPECTED_CLUSTER_SIZE: '1',
        LOG_LEVEL: 'debug',
      },
      logFile,
      ready: { tcp: port },
    });
    try {
      await waitFor('server.ts answers 200', async () => {
        const r = await rawRequest(`http://127.0.0.1:${port}/health`, { timeoutMs: 2000 });
        return r.status === 200;
      });
      const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8');
      expect(cmdline).not.toContain(HEALTH_USER.password);
    } finally {
      await proc.stop();
    }
    const log = readFileSync(logFile, 'utf8');
    expect(log).toContain('proxysql-health listening');
    expect(log).not.toContain(HEALTH_USER.password);
  });

  it('a saturated server (Threads_connected at max_connections) → 503, back to 200 when it eases', async () => {
    const n = galera.nodes[0];
    if (!n) throw new Error('no node');
    await n.query('SET GLOBAL max_connections = 10'); // MariaDB's minimum
    const held: Awaited<ReturnType<typeof rootConnection>>[] = [];
    try {
      // The checker holds one connection; nine more reach 10 of 10.
      for (let i = 0; i < 9; i++) held.push(await rootConnection(n.socket));
      const p = await waitStatus(c, 503);
      expect(p.body.reasons).toEqual(['connections_saturated']);
    } finally {
      for (const h of held) h.destroy();
      await n.query('SET GLOBAL max_connections = 200');
    }
    await waitStatus(c, 200);
  });

  // Issue 16: a failed canary was retried only at the next canary run, holding the node at 503
  // for up to 30 s after the database took new connections again.
  it('regression: a failed canary is retried every round, 200 again within 2 rounds of new connections being accepted', async () => {
    const n = galera.nodes[0];
    if (!n) throw new Error('no node');
    await waitStatus(c, 200);
    // The checker's persistent connection is the one this account may hold: a new one is refused.
    const limit = (k: number) =>
      n.query(`ALTER USER '${HEALTH_USER.user}'@'127.0.0.1' WITH MAX_USER_CONNECTIONS ${k}`);
    await limit(1);
    try {
      // MariaDB counts an account's connections only from logins made under a limit: make the
      // checker log in again (its persistent connection) so the limit covers it.
      const ids = await n.query<{ ID: number }[]>(
        `SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '${HEALTH_USER.user}'`,
      );
      for (const { ID } of ids) await n.query(`KILL CONNECTION ${Number(ID)}`);
      await waitFor(
        'the canary refused',
        async () => (await probe(c)).body.reasons.join() === 'canary_failed',
        20_000,
      );
      await afterRounds(c, 3);
      // Retried in each of the last rounds, not once per HEALTH_CANARY_INTERVAL_MS (3 s here).
      const last = c.evaluations.slice(-3);
      expect(new Set(last.map((e) => e.canary.at)).size).toBe(3);
      expect(last.every((e) => e.canary.error !== undefined && !e.verdict.reader)).toBe(true);
    } finally {
      await limit(0);
    }
    const first = await firstRoundAfter(c, Date.now());
    await waitStatus(c, 200);
    const fit = c.evaluations.find((e) => e.seq >= first.seq && e.verdict.reader);
    expect((fit?.seq ?? Number.POSITIVE_INFINITY) - first.seq).toBeLessThanOrEqual(1);
  });

  it('ProxySQL admin unreachable → 503 (fail closed)', async () => {
    await admin.stop();
    const p = await waitStatus(c, 503);
    expect(p.body.reasons).toEqual(['proxysql_error']);
  });
});
