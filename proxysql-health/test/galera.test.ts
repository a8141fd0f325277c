/**
 * A real 3-node MariaDB Galera cluster on loopback with one checker per node. The scenarios run
 * in order on one cluster (it takes ~30 s to start); the destructive ones come last.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawRequest } from '@wpfarm/common/testing/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GaleraCluster, startGalera } from '../src/testing/galera.ts';
import { afterRounds, type Checker, probe, startChecker, waitFor, waitStatus } from './harness.ts';

const TOKEN = 'drain-token-for-tests-0123456789';
let dir: string;
let cluster: GaleraCluster;
let checkers: Checker[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ph-galera-'));
  cluster = await startGalera({ dir, nodes: 3 });
  checkers = await Promise.all(
    cluster.nodes.map((n) =>
      startChecker({
        MYSQL_PORT: String(n.ports.port),
        HEALTH_EXPECTED_CLUSTER_SIZE: '3',
        HEALTH_DRAIN_TOKEN: TOKEN,
        HEALTH_DRAIN_FILE: join(dir, `drain-${n.index + 1}`),
      }),
    ),
  );
}, 150_000);

afterAll(async () => {
  await Promise.all(checkers.map((c) => c.close()));
  await cluster?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const node = (i: number) => cluster.nodes[i] as GaleraCluster['nodes'][number];
const checker = (i: number) => checkers[i] as Checker;

describe('proxysql-health against a real 3-node Galera cluster', () => {
  it('all three Synced → 200 on every endpoint, HEAD too', async () => {
    for (const c of checkers) {
      const p = await waitStatus(c, 200);
      expect(p.body).toMatchObject({ ok: true, verdict: 'healthy', reasons: [] });
      expect((await probe(c, '/health/writer')).status).toBe(200);
      expect((await probe(c, '/health/reader')).status).toBe(200);
      const head = await rawRequest(`${c.url}/health`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
    }
  });

  it('wsrep_desync=ON on one node → that node drained (503) within 2 intervals, the others 200', async () => {
    await node(1).query('SET GLOBAL wsrep_desync = ON');
    try {
      await afterRounds(checker(1), 2);
      const p = await probe(checker(1));
      expect(p.status).toBe(503);
      expect(p.body.verdict).toBe('drained');
      expect(p.body.reasons).toContain('wsrep_desync');
      expect((await probe(checker(0))).status).toBe(200);
    } finally {
      await node(1).query('SET GLOBAL wsrep_desync = OFF');
    }
    await waitStatus(checker(1), 200);
  });

  it('read_only=ON → /health/writer 503, /health/reader 200', async () => {
    await node(2).query('SET GLOBAL read_only = ON');
    try {
      await afterRounds(checker(2), 2);
      expect((await probe(checker(2), '/health/writer')).status).toBe(503);
      const r = await probe(checker(2), '/health/reader');
      expect(r.status).toBe(200);
      expect(r.body.reasons).toContain('read_only');
    } finally {
      await node(2).query('SET GLOBAL read_only = OFF');
    }
    await waitStatus(checker(2), 200, '/health/writer');
  });

  it('drain API: refused without the token, 503 with it, lifted by DELETE; MariaDB untouched', async () => {
    const c = checker(0);
    const none = await rawRequest(`${c.url}/drain`, { method: 'POST' });
    expect(none.status).toBe(401);
    const wrong = await rawRequest(`${c.url}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}x` },
    });
    expect(wrong.status).toBe(401);
    expect((await probe(c)).status).toBe(200);
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await rawRequest(`${c.url}/drain`, { method: 'POST', headers: auth })).status).toBe(200);
    // Re-rendered at once, no round needed.
    const p = await probe(c);
    expect(p.status).toBe(503);
    expect(p.body.reasons).toContain('drain_requested');
    const desync = await node(0).query<{ Value: string }[]>("SHOW GLOBAL VARIABLES LIKE 'wsrep_desync'");
    expect(desync[0]?.Value).toBe('OFF');
    expect((await rawRequest(`${c.url}/drain`, { method: 'DELETE', headers: auth })).status).toBe(200);
    expect((await probe(c)).status).toBe(200);
  });

  it('a drain file drains the node until it is removed', async () => {
    const c = checker(0);
    const file = join(dir, 'drain-1');
    await writeFile(file, '');
    await afterRounds(c, 2);
    expect((await probe(c)).status).toBe(503);
    await rm(file);
    await waitStatus(c, 200);
  });

  it('/status and /metrics describe the verdict', async () => {
    const s = JSON.parse((await rawRequest(`${checker(0).url}/status`)).body);
    expect(s.verdict.health).toBe('healthy');
    expect(s.mariadb.vars.wsrep_cluster_size).toBe('3');
    const m = (await rawRequest(`${checker(0).url}/metrics`)).body;
    expect(m).toContain('health_state{state="healthy"} 1');
    expect(m).toMatch(/health_probes_total\{endpoint="health",status="200"\} \d+/);
  });

  it('a node frozen with SIGSTOP → 503 within the timeout budget, and probes never hang', async () => {
    const c = checker(0);
    await waitStatus(c, 200);
    node(0).pause();
    try {
      const start = c.rounds();
      // Every probe during the freeze answers (2 s client timeout would throw otherwise).
      const answered: number[] = [];
      await waitFor('503 while frozen', async () => {
        const p = await probe(c, '/health', 2000);
        answered.push(p.status);
        return p.status === 503;
      });
      // Budget: timeoutFall (2) rounds of a query timeout each, plus the round in flight.
      expect(c.rounds() - start).toBeLessThanOrEqual(3);
      const p = await probe(c);
      expect(p.body.reasons.some((r) => /mariadb_timeout|canary_failed/.test(r))).toBe(true);
      const burst = await Promise.all(Array.from({ length: 50 }, () => probe(c, '/health', 2000)));
      expect(burst.every((b) => b.status === 503)).toBe(true);
      expect(answered.length).toBeGreaterThan(0);
    } finally {
      node(0).resume();
    }
    await waitStatus(c, 200, '/health', 90_000);
  }, 120_000);

  it('MariaDB restarted → back to 200 without restarting the checker', async () => {
    const c = checker(2);
    await waitStatus(c, 200);
    await node(2).stop();
    const down = await waitStatus(c, 503);
    expect(down.body.reasons).toContain('mariadb_error');
    await node(2).start();
    await waitStatus(c, 200, '/health', 60_000);
    await waitFor(
      'all three back in the cluster',
      async () => {
        const p = await probe(checker(0));
        return p.status === 200 && p.body.reasons.length === 0;
      },
      60_000,
    );
  }, 120_000);

  it('a node killed → survivors 200 with cluster_size_below_expected, the dead one 503', async () => {
    await node(2).kill();
    for (const i of [0, 1]) {
      await waitFor(`survivor ${i + 1} degraded`, async () => {
        const p = await probe(checker(i));
        return p.status === 200 && p.body.reasons.includes('cluster_size_below_expected');
      });
      expect((await probe(checker(i))).body.verdict).toBe('degraded');
    }
    expect((await waitStatus(checker(2), 503)).body.verdict).toBe('unhealthy');
  });

  it('two of three killed → the survivor is non-Primary → 503', async () => {
    await node(1).kill();
    const p = await waitStatus(checker(0), 503);
    expect(p.body.reasons[0]).toMatch(/^cluster_status_non-primary|^wsrep_ready_off/);
    await afterRounds(checker(0), 2);
    expect((await probe(checker(0), '/health/reader')).status).toBe(503);
  });
});
