/**
 * What the router answers its client when the upstream sends crafted bytes, over real sockets: a
 * raw TCP upstream replays each corpus response (differential.test.ts) behind the back role (and
 * the front, for the crash cases), a node:http client asks through the router, and the answer is
 * checked against what node:http itself made of the same bytes. The router runs in process: an
 * exception escaping a response path would fail this file.
 */
import { type IncomingMessage, request } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { parseRegistry } from '@wpfarm/common/registry/load';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTracing } from '../src/tracing.ts';
import { CORPUS } from './differential.test.ts';
import { reference } from './differential.ts';

/** A TCP upstream answering each request head with `reply(n)` (n: requests so far), closing after `closeMs`. */
interface RawUpstream {
  port: number;
  reply: (n: number) => { bytes: string; closeMs?: number };
  requests: number;
  connections: number;
  /** Connections the router closed (or lost) before the upstream did. */
  closedByRouter: number;
  server: Server;
}

async function rawUpstream(): Promise<RawUpstream> {
  const u: RawUpstream = {
    port: 0,
    reply: () => ({ bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' }),
    requests: 0,
    connections: 0,
    closedByRouter: 0,
    server: createServer(),
  };
  u.server.on('connection', (socket: Socket) => {
    u.connections++;
    let buf = '';
    let endedByUs = false;
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        const r = u.reply(++u.requests);
        socket.write(Buffer.from(r.bytes, 'latin1'));
        if (r.closeMs !== undefined)
          setTimeout(() => {
            endedByUs = true;
            socket.end();
          }, r.closeMs);
      }
    });
    socket.on('close', () => {
      if (!endedByUs) u.closedByRouter++;
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => u.server.listen(0, '127.0.0.1', r));
  u.port = (u.server.address() as AddressInfo).port;
  return u;
}

interface Answer {
  status: number;
  body: string;
  headers: IncomingMessage['headers'];
  /** The response did not complete (the router cut it: a broken response, never a short one). */
  broken: boolean;
}

function ask(
  port: number,
  host: string,
  extra: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request({
      port,
      host: '127.0.0.1',
      method,
      path: '/',
      headers: { host, ...extra },
      agent: false,
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (d: string) => {
        body += d;
      });
      const done = () =>
        resolve({ status: res.statusCode ?? 0, body, headers: res.headers, broken: !res.complete });
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    });
    req.on('error', () => resolve({ status: 0, body: '', headers: {}, broken: true }));
    req.end();
  });
}

let upstream: RawUpstream;
let back: App;
let backPort: number;
let front: App;
let frontPort: number;
const key = 'k'.repeat(40);

async function start(app: App): Promise<number> {
  await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
  return (app.server.address() as AddressInfo).port;
}

beforeAll(async () => {
  upstream = await rawUpstream();
  const registry = parseRegistry(`
version: 1
sites:
  - { id: alpha, host: alpha.farm.test, upstream: "http://127.0.0.1:${upstream.port}", webhookSecretRef: W }
  - { id: beta, host: beta.farm.test, upstream: "http://127.0.0.1:${upstream.port}", webhookSecretRef: W }
`);
  const logger = pino({ level: 'silent' });
  back = buildApp({
    // The breaker would turn the repeated 502s below into 503s; here each request stands alone.
    config: loadConfig({
      ROUTER_ROLE: 'back',
      REGISTRY_FILE: 'unused',
      UPSTREAM_BODY_TIMEOUT_MS: '2000',
      BREAKER_FAILURES: '1000',
    }),
    registry,
    logger,
    tracing: createTracing(false),
  });
  backPort = await start(back);
  // The front with the raw upstream as its only "cache node" (probes answered like any request).
  front = buildApp({
    config: loadConfig({
      ROUTER_ROLE: 'front',
      REGISTRY_FILE: 'unused',
      VARNISH_NODES: `n1=127.0.0.1:${upstream.port}`,
      EDGE_AUTH_KEYS: key,
      PROBE_INTERVAL_MS: '600000',
    }),
    registry,
    logger,
    tracing: createTracing(false),
  });
  frontPort = await start(front);
});
afterAll(async () => {
  await back?.close();
  await front?.close();
  upstream?.server.close();
});

describe('issue 16: one upstream byte no longer ends the router', () => {
  it.each([
    ['NUL', '\x00'],
    ['lone CR', '\r'],
    ['lone LF', '\n'],
    ['0x01', '\x01'],
    ['0x7f', '\x7f'],
  ])(
    'a header value with %s: 502 for that request, the upstream connection closed, the next request served',
    async (_n, byte) => {
      for (const [port, headers] of [
        [backPort, {}],
        [frontPort, { 'x-edge-auth': key }],
      ] as const) {
        upstream.reply = () => ({
          bytes: `HTTP/1.1 200 OK\r\nX-A: a${byte}b\r\nContent-Length: 5\r\n\r\nhello`,
        });
        const closedBefore = upstream.closedByRouter;
        const bad = await ask(port, 'alpha.farm.test', headers);
        expect(bad.status).toBe(502);
        await new Promise((r) => setTimeout(r, 20));
        expect(upstream.closedByRouter).toBeGreaterThan(closedBefore);
        upstream.reply = () => ({ bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' });
        expect((await ask(port, 'alpha.farm.test', headers)).body).toBe('ok');
      }
    },
  );
});

describe('issue 16: the client never gets a length that differs from the bytes that follow', () => {
  it('CL 5 + chunked carrying a second response: 502, and the next client gets its own answer', async () => {
    upstream.reply = (n) =>
      n === upstream.requests && n % 2 === 1
        ? {
            bytes:
              'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n2d\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled\r\n0\r\n\r\n',
          }
        : { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbeta' };
    upstream.requests = 0;
    const first = await ask(backPort, 'alpha.farm.test');
    expect(first.status).toBe(502);
    const second = await ask(backPort, 'beta.farm.test');
    expect([second.status, second.body]).toEqual([200, 'beta']);
  });

  it('two TE headers (chunked, then gzip): read until close like llhttp, never pooled; the other site gets its own answer', async () => {
    upstream.requests = 0;
    upstream.reply = (n) =>
      n === 1
        ? {
            bytes:
              'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n5\r\nhello\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
            closeMs: 50,
          }
        : { bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbeta' };
    const alpha = await ask(backPort, 'alpha.farm.test');
    const beta = await ask(backPort, 'beta.farm.test');
    expect(beta.body).toBe('beta');
    // alpha's client got exactly what node:http reads: the raw bytes up to the close, no length.
    expect(alpha.headers['content-length']).toBeUndefined();
    expect(alpha.body).toContain('smuggled');
  });

  it("the upstream's own x-farm-* hints never pass; the router's do", async () => {
    upstream.reply = () => ({
      bytes: 'HTTP/1.1 200 OK\r\nX-Farm-Ttl: 99999\r\nx-farm-evil: 1\r\nContent-Length: 2\r\n\r\nok',
    });
    const r = await ask(backPort, 'alpha.farm.test');
    expect(r.status).toBe(200);
    expect(r.headers['x-farm-evil']).toBeUndefined();
    expect(r.headers['x-farm-ttl']).not.toBe('99999');
    expect(r.headers['x-farm-ttl']).toMatch(/^\d+$/);
    const f = await ask(frontPort, 'alpha.farm.test', { 'x-edge-auth': key });
    expect(f.headers['x-farm-ttl']).toBeUndefined();
  });
});

describe('every corpus response through the back router, against node:http on the same bytes', () => {
  it.each(CORPUS.map(([name, text, method]) => [name, text, method ?? 'GET'] as const))(
    '%s',
    async (_name, text, method) => {
      const ref = await reference({ name: _name, bytes: Buffer.from(text, 'latin1'), method });
      upstream.reply = () => ({ bytes: text, closeMs: 30 });
      const got = await ask(backPort, 'alpha.farm.test', {}, method);
      if (ref.kind !== 'ok') {
        // Refused by llhttp: a 502 before anything, or a broken response, never a complete one.
        expect(got.status === 502 || got.broken, JSON.stringify(got)).toBe(true);
      } else if (got.status !== 502) {
        expect([got.status, got.body, got.broken]).toEqual([ref.status, ref.body, false]);
      }
      // The router is still up and serves.
      upstream.reply = () => ({ bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' });
      expect((await ask(backPort, 'beta.farm.test')).body).toBe('ok');
    },
  );
});
