import { readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type GaleraNode, HEALTH_USER, rootConnection, startGalera } from '@wpfarm/common/peers/galera';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { GALERA_SQL } from '@wpfarm/proxysql-health/checker';
import { loadConfig } from '@wpfarm/proxysql-health/config';
import { type LoadFigures, measure, ratio } from '../load.ts';
import type { Benchmark } from '../types.ts';

/**
 * proxysql-health (background evaluation, probes answered from an in-memory snapshot) against a
 * connect-per-probe checker (the clustercheck pattern, written for this comparison), both in
 * front of one live Galera node. Measures probes/s and p99 of each, and the database's
 * `Questions` per second at 10 and at 1,000 probes/s: ours must not depend on the probe rate.
 *
 * Issue 16 (a definite change in the verdict within 300 ms): ours runs at its production
 * defaults (100 ms rounds), and the bench measures what that costs the database (mariadbd CPU
 * per round, and per second with the checker polling against the checker stopped) and how long
 * a `SET GLOBAL wsrep_desync=ON` takes to show as 503 at a probe, over repeated trials.
 */
const CONNECTIONS = 10;
const DEFAULTS = loadConfig({});

/** mariadbd's CPU time so far (user + system), in ms, from /proc. */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** One probe's status over a keep-alive agent (the DO LB's view), 2 s deadline. */
function probeStatus(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('probe timed out')));
    req.on('error', reject);
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

function check(name: string, f: LoadFigures): void {
  if (f.errors || f.non2xx) throw new Error(`${name}: ${f.errors} errors and ${f.non2xx} non-2xx responses`);
}

async function questions(node: GaleraNode): Promise<number> {
  const rows = await node.query<{ Value: string }[]>("SHOW GLOBAL STATUS LIKE 'Questions'");
  return Number(rows[0]?.Value);
}

/** Database statements per second while probes arrive at `rate` per second for `seconds`. */
async function questionsPerSecond(node: GaleraNode, url: string, rate: number, seconds: number) {
  const before = await questions(node);
  const t0 = Date.now();
  const load = await measure({ url, rate, connections: Math.min(CONNECTIONS, rate), seconds });
  const elapsed = (Date.now() - t0) / 1000;
  // Our own two SHOW STATUS statements are not the checker's: take them out.
  const qps = (await questions(node)) - before - 2;
  return { qps: Math.round((qps / elapsed) * 100) / 100, load };
}

const bench: Benchmark = {
  name: 'proxysql-health',
  description: `proxysql-health vs a connect-per-probe checker (clustercheck pattern), one Galera node, ${CONNECTIONS} connections`,
  async run(ctx) {
    const procs: { stop(): Promise<void> }[] = [];
    try {
      ctx.log('one-node Galera ...');
      const cluster = await startGalera({ dir: join(ctx.dir, 'galera'), nodes: 1 });
      procs.push(cluster);
      const node = cluster.nodes[0] as GaleraNode;
      const dbEnv = {
        MYSQL_HOST: '127.0.0.1',
        MYSQL_PORT: String(node.ports.port),
        MYSQL_USER: HEALTH_USER.user,
        MYSQL_PASSWORD: HEALTH_USER.password,
      };

      const oursPort = await freePort();
      const ours: ManagedProcess = await startProcess({
        name: 'proxysql-health',
        command: process.execPath,
        args: [join(ctx.root, 'proxysql-health/src/server.ts')],
        env: {
          ...process.env,
          ...dbEnv,
          HOST: '127.0.0.1',
          PORT: String(oursPort),
          HEALTH_EXPECTED_CLUSTER_SIZE: '1',
          // The production interval and query timeout (config.ts defaults): what is measured.
          LOG_LEVEL: 'warn',
        },
        logFile: join(ctx.dir, 'proxysql-health.log'),
        ready: { http: `http://127.0.0.1:${oursPort}/health`, status: 200 },
      });
      procs.push(ours);

      const basePort = await freePort();
      const baseline = await startProcess({
        name: 'connect-per-probe',
        command: process.execPath,
        args: [join(ctx.root, 'proxysql-health/src/baselines/connect-per-probe-checker.ts')],
        env: { ...process.env, ...dbEnv, PORT: String(basePort) },
        logFile: join(ctx.dir, 'connect-per-probe.log'),
        ready: { http: `http://127.0.0.1:${basePort}/`, status: 200 },
      });
      procs.push(baseline);

      const oursUrl = `http://127.0.0.1:${oursPort}/health`;
      const baseUrl = `http://127.0.0.1:${basePort}/`;
      ctx.log('proxysql-health, as fast as it goes ...');
      const o = await measure({
        url: oursUrl,
        connections: CONNECTIONS,
        seconds: ctx.seconds,
        warmupSeconds: 1,
      });
      check('proxysql-health', o);
      ctx.log('connect-per-probe checker, as fast as it goes ...');
      const b = await measure({
        url: baseUrl,
        connections: CONNECTIONS,
        seconds: ctx.seconds,
        warmupSeconds: 1,
      });
      check('connect-per-probe', b);

      // Rate phases last at least 4 s: ours polls once a second, so shorter windows are all noise.
      const secs = Math.max(4, ctx.seconds);
      ctx.log(`Questions/s at 10 and 1,000 probes/s (${secs} s each) ...`);
      const o10 = await questionsPerSecond(node, oursUrl, 10, secs);
      const o1000 = await questionsPerSecond(node, oursUrl, 1000, secs);
      const b10 = await questionsPerSecond(node, baseUrl, 10, secs);
      const b1000 = await questionsPerSecond(node, baseUrl, 1000, secs);
      for (const [n, r] of [
        ['ours@10', o10],
        ['ours@1000', o1000],
        ['baseline@10', b10],
        ['baseline@1000', b1000],
      ] as const)
        check(n, r.load);

      // What one round's statement costs the server: the same statement back to back on one
      // connection, mariadbd's CPU time divided by the count (the checker's own rounds included,
      // a few per second against thousands here).
      const mariadbPid = node.process?.pid;
      if (!mariadbPid) throw new Error('galera node has no process');
      const perPoll = await (async () => {
        const conn = await rootConnection(node.socket);
        try {
          const n = ctx.quick ? 2000 : 5000;
          const lat: number[] = [];
          const cpu0 = cpuMs(mariadbPid);
          for (let i = 0; i < n; i++) {
            const t = performance.now();
            await conn.query(GALERA_SQL);
            lat.push(performance.now() - t);
          }
          return { cpuUs: ((cpuMs(mariadbPid) - cpu0) * 1000) / n, p50: pct(lat, 50), p99: pct(lat, 99) };
        } finally {
          conn.destroy();
        }
      })();

      // The database's load at the interval, whole: mariadbd CPU per second while ours polls,
      // against the same window with ours stopped (SIGSTOP: no rounds, no connection change).
      const windowS = Math.max(5, ctx.seconds);
      ctx.log(`mariadbd CPU with the checker polling vs stopped (${windowS} s each) ...`);
      const cpuPerS = async () => {
        const c0 = cpuMs(mariadbPid);
        const q0 = await questions(node);
        const t0 = Date.now();
        await sleep(windowS * 1000);
        const s = (Date.now() - t0) / 1000;
        return { cpu: (cpuMs(mariadbPid) - c0) / s, q: ((await questions(node)) - q0 - 1) / s };
      };
      const polling = await cpuPerS();
      ours.pause();
      const idle = await cpuPerS();
      ours.resume();

      // A definite change at a random moment of the round: SET GLOBAL wsrep_desync=ON, then
      // probes back to back until the first 503; 200s after the SET returned are counted.
      const trials = ctx.quick ? 15 : 40;
      ctx.log(`desync → 503 at a probe, ${trials} trials ...`);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      const toDrained: number[] = [];
      let late200 = 0;
      const root = await rootConnection(node.socket);
      try {
        for (let i = 0; i < trials; i++) {
          while ((await probeStatus(oursUrl, agent)) !== 200) await sleep(20);
          await sleep(Math.random() * DEFAULTS.intervalMs * 2);
          await root.query('SET GLOBAL wsrep_desync = ON');
          const setAt = performance.now();
          for (;;) {
            const status = await probeStatus(oursUrl, agent);
            if (status !== 200) break;
            late200++;
          }
          toDrained.push(performance.now() - setAt);
          await root.query('SET GLOBAL wsrep_desync = OFF');
        }
      } finally {
        agent.destroy();
        root.destroy();
      }

      return {
        figures: {
          ours_rps: o.rps,
          ours_p50_ms: o.p50,
          ours_p99_ms: o.p99,
          connect_per_probe_rps: b.rps,
          connect_per_probe_p50_ms: b.p50,
          connect_per_probe_p99_ms: b.p99,
          ours_questions_per_s_at_10: o10.qps,
          ours_questions_per_s_at_1000: o1000.qps,
          connect_per_probe_questions_per_s_at_10: b10.qps,
          connect_per_probe_questions_per_s_at_1000: b1000.qps,
          ours_probes_per_s_at_1000: o1000.load.rps,
          connect_per_probe_probes_per_s_at_1000: b1000.load.rps,
          interval_ms: DEFAULTS.intervalMs,
          poll_server_cpu_us: Math.round(perPoll.cpuUs),
          poll_p50_ms: Math.round(perPoll.p50 * 100) / 100,
          poll_p99_ms: Math.round(perPoll.p99 * 100) / 100,
          // Per-poll CPU × rounds per second: the load the interval puts on the database.
          poll_server_cpu_ms_per_s_at_interval:
            Math.round((perPoll.cpuUs * (1000 / DEFAULTS.intervalMs)) / 10) / 100,
          mariadb_cpu_ms_per_s_checker_polling: Math.round(polling.cpu * 10) / 10,
          mariadb_cpu_ms_per_s_checker_stopped: Math.round(idle.cpu * 10) / 10,
          mariadb_questions_per_s_checker_polling: Math.round(polling.q * 10) / 10,
          desync_to_503_p50_ms: Math.round(pct(toDrained, 50)),
          desync_to_503_max_ms: Math.round(Math.max(...toDrained)),
          desync_trials: trials,
          desync_200s_after_set_returned: late200,
        },
        ratios: {
          rps_ours_vs_connect_per_probe: ratio(o.rps, b.rps),
          // 1 = independent of probe rate; the connect-per-probe checker grows ~100×.
          ours_questions_1000_vs_10: ratio(o1000.qps, o10.qps),
          connect_per_probe_questions_1000_vs_10: ratio(b1000.qps, b10.qps),
        },
        goals: {
          ours_rps: { min: 10_000 },
          ours_p99_ms: { max: 2 },
          ours_questions_1000_vs_10: { max: 1.5 },
          desync_to_503_max_ms: { max: 300 },
          // One round's statement: a few hundred µs of server CPU, so 10 rounds/s stay ~1 % of a core.
          poll_server_cpu_ms_per_s_at_interval: { max: 10 },
        },
        notes: [
          `${CONNECTIONS} keep-alive connections; the connect-per-probe checker opens one MariaDB connection and sends 2 statements (+ COM_QUIT) per probe (clustercheck pattern, without its fork of a shell and a mysql client)`,
          `ours runs at its defaults: a round every ${DEFAULTS.intervalMs} ms with one statement (a second, causal one only while a node must prove it is in the Primary component); Questions counts every statement a client sends`,
          'poll_server_cpu_us: mariadbd CPU per round statement, measured over thousands back to back; mariadb_cpu_ms_per_s_*: the whole server with the checker polling vs SIGSTOPped (Galera background included in both)',
          `desync_to_503: from SET GLOBAL wsrep_desync=ON returning to the first 503 at a probe sent back to back over keep-alive, the SET placed at a random moment of the round; ${trials} trials`,
        ],
      };
    } finally {
      for (const p of procs.reverse()) await p.stop().catch(() => {});
    }
  },
};

export default bench;
