import { once } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { measureLatency } from './latency.ts';
import { measure } from './load.ts';
import { takeJournal } from './phases.ts';
import { runBenchmark } from './runner.ts';
import type { Benchmark } from './types.ts';

/** A real HTTP server that resets (RST) the connections of its first `resets` requests, then answers 200. */
async function hiccupServer(resets: number): Promise<{ server: Server; url: string; seen(): number }> {
  let seen = 0;
  const server = createServer((req, res) => {
    seen++;
    if (seen <= resets) {
      req.socket.resetAndDestroy();
      return;
    }
    res.end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/`, seen: () => seen };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  takeJournal();
});

describe('a hiccup during a measurement', () => {
  it('origin-router lost every figure to 3 socket errors: a load run with socket errors is run again and the discarded attempt journalled', async () => {
    const h = await hiccupServer(3);
    servers.push(h.server);
    takeJournal();
    const f = await measure({ url: h.url, connections: 2, seconds: 1 });
    expect(f.errors).toBe(0);
    expect(f.total).toBeGreaterThan(0);
    const [record] = takeJournal();
    expect(record).toMatchObject({ kind: 'load', attempts: 2 });
    expect(record?.discarded[0]).toMatch(/socket errors/);
  });

  it('origin-router crashed in its latency phase on 3 socket errors: the latency run is run again', async () => {
    const h = await hiccupServer(3);
    servers.push(h.server);
    takeJournal();
    const l = await measureLatency({ url: h.url, rate: 50, connections: 2, seconds: 1, warmupSeconds: 0 });
    expect(l.errors).toBe(0);
    expect(l.ok).toBeGreaterThan(0);
    const [record] = takeJournal();
    expect(record).toMatchObject({ kind: 'latency', attempts: 2 });
  });
});

describe('runBenchmark', () => {
  const options = () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-runner-'));
    return { quick: true, dir, root: dir, resultsDir: dir, machine: { cpus: 2 }, log: () => {} };
  };

  it('a benchmark that crashes after measuring still writes what it measured', async () => {
    const h = await hiccupServer(0);
    servers.push(h.server);
    const crashing: Benchmark = {
      name: 'crashing',
      description: 'measures, records, then throws',
      async run(ctx) {
        ctx.record({ first_rps: 123 });
        await measure({ url: h.url, connections: 1, seconds: 1 });
        throw new Error('latency phase: 3 errors');
      },
    };
    const o = options();
    const out = await runBenchmark(crashing, o);
    expect(out.status).toBe('crashed');
    const written = JSON.parse(readFileSync(join(o.resultsDir, 'crashing.json'), 'utf8'));
    expect(written).toMatchObject({ status: 'crashed', error: 'latency phase: 3 errors' });
    expect(written.figures.first_rps).toBe(123);
    expect(written.measured[0].figures.rps).toBeGreaterThan(0);
  });

  it('a failed phase is reported as that phase and the other phases keep their figures', async () => {
    const partly: Benchmark = {
      name: 'partly',
      description: 'one phase fails, the next one runs',
      async run(ctx) {
        await ctx.phase('edge', async () => {
          throw new Error('workerd did not start');
        });
        const router = await ctx.phase('router', async () => 42);
        return { figures: { router_rps: router ?? -1 }, ratios: {}, goals: {} };
      },
    };
    const o = options();
    const out = await runBenchmark(partly, o);
    expect(out.status).toBe('failed');
    const written = JSON.parse(readFileSync(join(o.resultsDir, 'partly.json'), 'utf8'));
    expect(written.failed).toEqual({ edge: 'workerd did not start' });
    expect(written.figures.router_rps).toBe(42);
  });
});
