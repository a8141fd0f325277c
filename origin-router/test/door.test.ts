/**
 * The router's door over real sockets, in process: request targets and Host (issue 16 item 5),
 * Varnish's purge interface refused on the edge path (issue 16 build 7), the visitor's address
 * believed only from trusted hops (issue 15 item 5), silent connections and the connection cap
 * (issue 16 item 8). The upstream is a node:http echo of what reached it.
 */
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { parseRegistry } from '@wpfarm/common/registry/load';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTracing } from '../src/tracing.ts';
import { rawRequest } from './raw.ts';

let echo: Server;
let echoPort: number;
const seen: { url: string; headers: Record<string, string | string[] | undefined>; method: string }[] = [];
const apps: App[] = [];
const key = 'k'.repeat(40);

beforeAll(async () => {
  echo = createServer((req, res) => {
    // The front's health probe at start is not a forwarded request.
    if (req.url !== '/.varnish-health')
      seen.push({ url: req.url ?? '', headers: req.headers, method: req.method ?? '' });
    req.resume();
    const body = JSON.stringify({ url: req.url, xff: req.headers['x-forwarded-for'] });
    res.writeHead(200, { 'content-length': Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoPort = (echo.address() as AddressInfo).port;
});
afterAll(async () => {
  for (const a of apps) await a.close();
  echo.closeAllConnections();
  echo.close();
});

async function router(env: Record<string, string>): Promise<{ app: App; port: number }> {
  const registry = parseRegistry(`
version: 1
sites:
  - { id: alpha, host: alpha.farm.test, upstream: "http://127.0.0.1:${echoPort}", webhookSecretRef: W }
  - { id: beta, host: beta.farm.test, upstream: "http://127.0.0.1:${echoPort}", webhookSecretRef: W }
`);
  const front = env.ROUTER_ROLE === 'front';
  const app = buildApp({
    config: loadConfig({
      REGISTRY_FILE: 'unused',
      ...(front
        ? { VARNISH_NODES: `n1=127.0.0.1:${echoPort}`, EDGE_AUTH_KEYS: key, PROBE_INTERVAL_MS: '600000' }
        : {}),
      ...env,
    }),
    registry,
    logger: pino({ level: 'silent' }),
    tracing: createTracing(false),
  });
  apps.push(app);
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  return { app, port: (app.server.address() as AddressInfo).port };
}

const reached = () => seen.length;

describe('request targets and Host', () => {
  it('an absolute-form target naming another site is refused (400), nothing reaches an upstream', async () => {
    const { port } = await router({ ROUTER_ROLE: 'back' });
    const before = reached();
    const r = await rawRequest(
      port,
      'GET http://beta.farm.test/secret HTTP/1.1\r\nHost: alpha.farm.test\r\nConnection: close\r\n\r\n',
      {
        waitMs: 2000,
      },
    );
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/x-router-error: BAD_TARGET/i);
    expect(reached()).toBe(before);
  });

  it('an absolute-form target naming the Host is forwarded in origin form', async () => {
    const { port } = await router({ ROUTER_ROLE: 'back' });
    const r = await rawRequest(
      port,
      'GET http://alpha.farm.test/page?x=1 HTTP/1.1\r\nHost: alpha.farm.test\r\nConnection: close\r\n\r\n',
      { waitMs: 2000 },
    );
    expect(r.status).toBe(200);
    expect(seen.at(-1)!.url).toBe('/page?x=1');
  });

  it('two Host headers are refused (400) even when both name sites', async () => {
    const { port } = await router({ ROUTER_ROLE: 'back' });
    const before = reached();
    const r = await rawRequest(
      port,
      'GET / HTTP/1.1\r\nHost: alpha.farm.test\r\nHost: beta.farm.test\r\nConnection: close\r\n\r\n',
      {
        waitMs: 2000,
      },
    );
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/x-router-error: DUPLICATE_HOST/i);
    expect(reached()).toBe(before);
  });
});

describe("the front refuses Varnish's purge interface from the edge path", () => {
  it.each([
    ['PURGE', {}, 405],
    // llhttp knows no BAN method: node:http refuses it before the router sees it.
    ['BAN', {}, 400],
    ['TRACE', {}, 405],
    ['GET', { 'x-purge-secret': 'guess' }, 400],
    ['GET', { 'xkey-purge': 'p-1' }, 400],
    ['GET', { 'X-Ban-Host': 'alpha.farm.test' }, 400],
    ['POST', { 'x-ban-url': '^/' }, 400],
  ] as const)('%s with %j → %i, nothing reaches Varnish', async (method, extra, status) => {
    const { port } = await router({ ROUTER_ROLE: 'front' });
    const before = reached();
    const headers = Object.entries({ 'x-edge-auth': key, 'x-edge-host': 'alpha.farm.test', ...extra })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const r = await rawRequest(
      port,
      `${method} / HTTP/1.1\r\nHost: alpha.farm.test\r\n${headers}Content-Length: 0\r\nConnection: close\r\n\r\n`,
      { waitMs: 2000 },
    );
    expect(r.status).toBe(status);
    if (status === 405) expect(r.text).toMatch(/allow: GET, HEAD, POST/i);
    expect(reached()).toBe(before);
  });

  it('an ordinary visitor request still passes', async () => {
    const { port } = await router({ ROUTER_ROLE: 'front' });
    const r = await rawRequest(
      port,
      `GET / HTTP/1.1\r\nHost: alpha.farm.test\r\nx-edge-auth: ${key}\r\nConnection: close\r\n\r\n`,
      { waitMs: 2000 },
    );
    expect(r.status).toBe(200);
  });
});

describe('the visitor address is believed only from trusted hops', () => {
  const spoofed =
    'GET / HTTP/1.1\r\nHost: alpha.farm.test\r\nX-Forwarded-For: 6.6.6.6\r\nConnection: close\r\n\r\n';
  it.each(['back', 'front'] as const)(
    '%s: a spoofed X-Forwarded-For from an untrusted peer is replaced by the peer',
    async (role) => {
      const { port } = await router({ ROUTER_ROLE: role });
      const r = await rawRequest(port, spoofed.replace('\r\n\r\n', `\r\nx-edge-auth: ${key}\r\n\r\n`), {
        waitMs: 2000,
      });
      expect(r.status).toBe(200);
      expect(seen.at(-1)!.headers['x-forwarded-for']).toBe('127.0.0.1');
    },
  );

  it('from a trusted hop the chain is kept and the hop appended', async () => {
    const { port } = await router({ ROUTER_ROLE: 'back', TRUSTED_HOPS: '127.0.0.1' });
    const r = await rawRequest(port, spoofed, { waitMs: 2000 });
    expect(r.status).toBe(200);
    expect(seen.at(-1)!.headers['x-forwarded-for']).toBe('6.6.6.6, 127.0.0.1');
  });
});

describe('connections', () => {
  it('1,000 connections that never send a byte are all closed within the headers timeout', async () => {
    const timeout = 3000;
    const { app, port } = await router({ ROUTER_ROLE: 'back', HEADERS_TIMEOUT_MS: String(timeout) });
    const lifetimes: number[] = [];
    const sockets: Socket[] = [];
    await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<void>((resolve) => {
            // allowHalfOpen: this client never closes its side, as an attacker would not; the
            // router must close the connection itself, not wait for the peer's FIN.
            const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
            sockets.push(s);
            let opened = 0;
            s.on('connect', () => {
              opened = Date.now();
            });
            s.on('data', () => {});
            s.on('end', () => {
              lifetimes.push(Date.now() - opened);
              resolve();
            });
            s.on('error', () => resolve());
          }),
      ),
    );
    expect(lifetimes.length).toBe(1000);
    // Node checks on an interval; the router sets its own deadline so the check lands inside it.
    expect(Math.max(...lifetimes)).toBeLessThanOrEqual(timeout + 150);
    expect(Math.min(...lifetimes)).toBeGreaterThanOrEqual(timeout * 0.8 - 50);
    await new Promise((r) => setTimeout(r, 100));
    // Closed on the router's side too, though the clients never closed theirs.
    expect(app.metrics.connections.counts!.open()).toBe(0);
    const text = await app.metrics.registry.metrics();
    expect(text).toMatch(/router_connections_open\{role="back"\} 0/);
    for (const s of sockets) s.destroy();
  });

  it('MAX_CONNECTIONS caps open connections; the refused are counted in /metrics', async () => {
    const { app, port } = await router({ ROUTER_ROLE: 'back', MAX_CONNECTIONS: '5' });
    const held: Socket[] = [];
    for (let i = 0; i < 5; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      held.push(s);
      await new Promise((r) => s.once('connect', r));
    }
    await new Promise((r) => setTimeout(r, 50));
    const extra = connect(port, '127.0.0.1');
    extra.on('error', () => {});
    await new Promise((r) => extra.once('close', r));
    const text = await app.metrics.registry.metrics();
    expect(text).toMatch(/router_connections_open\{role="back"\} 5/);
    expect(text).toMatch(/router_connections_refused_total\{role="back"\} 1/);
    for (const s of held) s.destroy();
  });
});
