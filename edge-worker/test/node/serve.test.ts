/**
 * Tier 3: serve.ts as a real process (workerd through Miniflare, the bundle `wrangler deploy
 * --dry-run` builds) on a free port, in front of the real demo origin behind a verifying front,
 * with the host map seeded from a registry file. What the local farm and the benchmark rely on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, get as httpGet, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EDGE_AUTH_HEADER, EDGE_HOST_HEADER, edgeSecretMatches } from '@wpfarm/common/contracts/edge-auth';
import { demoOriginHandler } from '@wpfarm/common/peers/demo-origin';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { validateRegistry } from '@wpfarm/common/registry/schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_EDGE_KEY, TEST_PURGE_TOKEN, TEST_REGISTRY } from '../fixtures.ts';

let dir: string;
let front: Server;
let edge: ManagedProcess;
let edgeUrl: string;
let originRequests = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edge-serve-test-'));
  const origin = demoOriginHandler({ registry: validateRegistry(TEST_REGISTRY), pageBytes: 1024 });
  front = createServer((req, res) => {
    if (!edgeSecretMatches(req.headers[EDGE_AUTH_HEADER] as string | undefined, [TEST_EDGE_KEY])) {
      res.statusCode = 403;
      return res.end();
    }
    originRequests++;
    req.headers.host = String(req.headers[EDGE_HOST_HEADER]);
    void origin.handler(req, res);
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const registry = join(dir, 'registry.json');
  writeFileSync(registry, JSON.stringify(TEST_REGISTRY));
  const port = await freePort();
  edgeUrl = `http://127.0.0.1:${port}`;
  edge = await startProcess({
    name: 'edge-serve-test',
    command: process.execPath,
    args: [join(import.meta.dirname, '../../src/serve.ts')],
    cwd: join(import.meta.dirname, '../..'),
    env: {
      ...process.env,
      EDGE_PORT: String(port),
      EDGE_STATE_DIR: join(dir, 'state'),
      EDGE_REGISTRY: registry,
      ORIGIN_URL: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
      EDGE_AUTH_KEYS: `${TEST_EDGE_KEY},${'n'.repeat(40)}`,
      EDGE_PURGE_TOKEN: TEST_PURGE_TOKEN,
    },
    logFile: join(dir, 'edge.log'),
    ready: { http: `http://127.0.0.1:${port}/__edge/health`, status: 200 },
    readyTimeoutMs: 120_000,
  });
}, 150_000);

afterAll(async () => {
  await edge?.stop();
  await new Promise<void>((r) => front?.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

interface Got {
  status: number;
  headers: Headers;
  text(): Promise<string>;
}

/** GET with a chosen Host header (fetch forbids setting it), body read in full. */
function get(path: string, host: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${edgeUrl}${path}`, { headers: { host }, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers, text: async () => body });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('serve.ts', () => {
  it('serves a MISS then a HIT with the first of EDGE_AUTH_KEYS, seeded host map and all', async () => {
    const before = originRequests;
    const first = await get('/serve-test/', 'alpha.test');
    await first.text();
    expect(first.headers.get('x-edge-cache')).toBe('MISS');
    // The put runs after the response (waitUntil): poll until the entry is there.
    let second: Got | undefined;
    for (let i = 0; i < 50; i++) {
      second = await get('/serve-test/', 'alpha.test');
      await second.text();
      if (second.headers.get('x-edge-cache') === 'HIT') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(second?.headers.get('x-edge-cache')).toBe('HIT');
    expect(originRequests - before).toBeGreaterThanOrEqual(1);
  });

  it('answers probes and unknown hosts itself', async () => {
    const before = originRequests;
    const probe = await get('/.env', 'alpha.test');
    expect([probe.status, probe.headers.get('x-edge-block')]).toEqual([404, 'probe:.env']);
    expect((await get('/', 'unknown.test')).status).toBe(421);
    expect(originRequests).toBe(before);
  });

  it('accepts an authenticated purge and refuses others', async () => {
    const call = (token: string) =>
      fetch(`${edgeUrl}/__edge/purge`, {
        method: 'POST',
        headers: { host: '127.0.0.1', authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ site: 'alpha', all: true }),
      });
    expect((await call('x'.repeat(40))).status).toBe(401);
    const ok = await call(TEST_PURGE_TOKEN);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ site: 'alpha', version: 1 });
  });
});
