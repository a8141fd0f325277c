import { join } from 'node:path';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { type GaleraNode, HEALTH_USER, startGalera } from '@wpfarm/proxysql-health/testing/galera';
import { type LoadFigures, measure, ratio } from '../load.ts';
import type { Benchmark } from '../types.ts';

/**
 * proxysql-health (background evaluation, probes answered from an in-memory snapshot) against a
 * connect-per-probe checker (the clustercheck pattern, written for this comparison), both in
 * front of one live Galera node. Measures probes/s and p99 of each, and the database's
 * `Questions` per second at 10 and at 1,000 probes/s: ours must not depend on the probe rate.
 */
const CONNECTIONS = 10;

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
          HEALTH_INTERVAL_MS: '1000',
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
        },
        notes: [
          `${CONNECTIONS} keep-alive connections; the connect-per-probe checker opens one MariaDB connection and sends 2 statements (+ COM_QUIT) per probe (clustercheck pattern, without its fork of a shell and a mysql client)`,
          'ours polls once a second (HEALTH_INTERVAL_MS=1000) with one statement; Questions counts every statement a client sends',
        ],
      };
    } finally {
      for (const p of procs.reverse()) await p.stop().catch(() => {});
    }
  },
};

export default bench;
