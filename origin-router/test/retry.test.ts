/**
 * The front's retry rule, in process (buildApp) with two plain HTTP upstreams standing in for
 * cache nodes whose answers the test controls: a Varnish 503 cannot be produced on one real node
 * on demand. Real varnishd failover is covered in faults.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRegistry } from '@wpfarm/common/registry/load';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTracing } from '../src/tracing.ts';
import { get } from './harness.ts';

const registry = parseRegistry(`
version: 1
sites:
  - { id: alpha, host: alpha.farm.test, upstream: "http://127.0.0.1:1", webhookSecretRef: W }
`);
const key = 'k'.repeat(40);

interface Node {
  server: Server;
  port: number;
  seen: string[];
  /** TCP connections accepted so far (the router's probes included). */
  connections: number;
  /** `chunked`: no Content-Length, so the body's end is known only from the stream. */
  answer: { status: number; headers?: Record<string, string>; chunked?: boolean };
}

async function node(): Promise<Node> {
  const n: Node = { server: createServer(), port: 0, seen: [], connections: 0, answer: { status: 200 } };
  n.server.on('connection', () => n.connections++);
  n.server.on('request', (req, res) => {
    const probe = req.url === '/probe'; // health probes always pass and are not counted
    if (!probe) n.seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      const body = `from ${n.port}`;
      const answer = probe ? { status: 200 } : n.answer;
      const length = 'chunked' in answer && answer.chunked ? {} : { 'content-length': body.length };
      res.writeHead(answer.status, { ...length, ...answer.headers });
      res.end(body);
    });
  });
  await new Promise<void>((r) => n.server.listen(0, '127.0.0.1', r));
  n.port = (n.server.address() as AddressInfo).port;
  return n;
}

let a: Node;
let b: Node;
let app: App;
let url: string;
let first: Node;
let second: Node;
const edge = { 'x-edge-auth': key, 'x-edge-host': 'alpha.farm.test' };

beforeAll(async () => {
  a = await node();
  b = await node();
  const config = loadConfig({
    ROUTER_ROLE: 'front',
    REGISTRY_FILE: 'unused.yaml',
    VARNISH_NODES: `n1=127.0.0.1:${a.port},n2=127.0.0.1:${b.port}`,
    EDGE_AUTH_KEYS: key,
    PROBE_INTERVAL_MS: '600000',
    PROBE_PATH: '/probe',
  });
  app = buildApp({ config, registry, logger: pino({ level: 'silent' }), tracing: createTracing(false) });
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const order = app.nodes!.order('alpha.farm.test');
  [first, second] = order[0] === 0 ? [a, b] : [b, a];
});
afterAll(async () => {
  await app?.close();
  for (const n of [a, b]) {
    n?.server.closeAllConnections();
    n?.server.close();
  }
});
beforeEach(() => {
  for (const n of [a, b]) {
    n.seen = [];
    n.answer = { status: 200 };
  }
});

/** GETs `paths` one after another, each answered by the second node; returns the connections the first node accepted meanwhile. */
async function answeredBySecond(paths: string[]): Promise<number> {
  const before = first.connections;
  for (const path of paths) {
    const r = await get(`${url}${path}`, edge);
    expect(r.status).toBe(200);
    expect(r.body).toBe(`from ${second.port}`);
  }
  return first.connections - before;
}

describe('front retry rule', () => {
  it('retries a GET once on the next node in hash order when the first answers 503', async () => {
    first.answer = { status: 503 };
    const r = await get(`${url}/page/`, edge);
    expect(r.status).toBe(200);
    expect(r.body).toBe(`from ${second.port}`);
    expect(first.seen).toEqual(['GET /page/']);
    expect(second.seen).toEqual(['GET /page/']);
    const m = await app.metrics.registry.getSingleMetricAsString('router_retries_total');
    expect(m).toMatch(/reason="503"[^\n]* 1/);
  });

  it("reads a refused answer's short body and keeps that connection for the next request", async () => {
    first.answer = { status: 503 };
    await get(`${url}/warm/`, edge);
    const opened = await answeredBySecond(['/r1/', '/r2/', '/r3/']);
    expect(first.seen).toEqual(['GET /warm/', 'GET /r1/', 'GET /r2/', 'GET /r3/']);
    expect(opened).toBe(0);
  });

  it('cuts a refused answer of unknown length and still retries on the next node', async () => {
    await get(`${url}/warm/`, edge); // answered 200 by the first node: one idle connection to it
    first.answer = { status: 503, chunked: true };
    const opened = await answeredBySecond(['/c1/', '/c2/', '/c3/']);
    expect(first.seen).toEqual(['GET /warm/', 'GET /c1/', 'GET /c2/', 'GET /c3/']);
    // /c1/ took the idle connection; each refusal closed the one it came on.
    expect(opened).toBe(2);
  });

  it('passes the second 503 on rather than retrying again', async () => {
    first.answer = { status: 503 };
    second.answer = { status: 503 };
    const r = await get(`${url}/both-down/`, edge);
    expect(r.status).toBe(503);
    expect(first.seen.length + second.seen.length).toBe(2);
  });

  it('does not retry the maintenance page', async () => {
    first.answer = { status: 503, headers: { 'x-router-maintenance': '1', 'retry-after': '300' } };
    const r = await get(`${url}/`, edge);
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('300');
    expect(second.seen).toEqual([]);
  });

  it('does not retry a POST', async () => {
    first.answer = { status: 503 };
    const r = await get(`${url}/wp-comments-post.php`, edge, { method: 'POST', body: 'comment=hi' });
    expect(r.status).toBe(503);
    expect(second.seen).toEqual([]);
  });
});
