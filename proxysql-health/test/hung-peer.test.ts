/**
 * A peer that accepts TCP and never speaks (what a SIGSTOPped mariadbd looks like to a client
 * whose connection the kernel still accepts): every round must end within its deadline, and
 * probes must answer while a round is stuck.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Checker, probe, startChecker } from './harness.ts';

let silent: Server;
const sockets: Socket[] = [];
let c: Checker;

beforeAll(async () => {
  silent = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  c = await startChecker({
    MYSQL_PORT: String(port),
    PROXYSQL_ADMIN_PORT: String(port),
    HEALTH_INTERVAL_MS: '200',
    HEALTH_QUERY_TIMEOUT_MS: '100',
    HEALTH_CANARY_INTERVAL_MS: '0',
  });
});

afterAll(async () => {
  await c.close();
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});

describe('a silent peer', () => {
  it('probes answer 503 at once, before and after rounds that time out', async () => {
    const first = await probe(c, '/health', 1000);
    expect(first.status).toBe(503);
    const round = await c.app.checker.runOnce();
    expect(round.galera.kind).toBe('timeout');
    expect(round.proxysql.kind).toBe('timeout');
    const p = await probe(c, '/health', 1000);
    expect(p.status).toBe(503);
    expect(p.body.verdict).toBe('unhealthy');
  });

  it('keeps evaluating (the loop never sticks on a silent socket)', async () => {
    const start = c.rounds();
    const deadline = Date.now() + 10_000;
    while (c.rounds() < start + 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(c.rounds()).toBeGreaterThanOrEqual(start + 3);
    expect((await probe(c)).body.reasons[0]).toMatch(/_timeout$/);
  });
});
