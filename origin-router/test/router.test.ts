/**
 * The routers against real peers: demo origin ← back router ← varnishd ×3 ← front router, plus an
 * echo upstream that shows exactly which headers reach WordPress.
 */

import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, type Rig, registryYaml, startRig } from './harness.ts';
import { rawRequest } from './raw.ts';

let rig: Rig;
let echo: Server;
let echoUrl: string;

beforeAll(async () => {
  // The echo upstream answers with the request headers it received (private: never cached).
  echo = createServer((req, res) => {
    const body = JSON.stringify({ headers: req.headers, url: req.url });
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'private',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  rig = await startRig({
    sites: 20,
    frontEnv: { HEADERS_TIMEOUT_MS: '1000', MAX_BODY_BYTES: '1000', MAX_URL_BYTES: '2000' },
    backEnv: { UPSTREAM_HEADERS_TIMEOUT_MS: '800' },
  });
  // Add the echo site and a dead-upstream site; wait until both routers picked them up.
  writeFileSync(
    rig.registryFile,
    registryYaml(
      rig.origin.url,
      20,
      `  - { id: echo, host: echo.farm.test, upstream: "${echoUrl}", webhookSecretRef: W, policy: { extraBypassCookies: [pmpro_] } }\n` +
        '  - { id: dead, host: dead.farm.test, upstream: "http://127.0.0.1:1", webhookSecretRef: W }\n',
    ),
  );
  for (;;) {
    const r = await get(`${rig.front.url}/`, { 'x-edge-auth': rig.keys[0], 'x-edge-host': 'echo.farm.test' });
    const b = await get(`${rig.back.url}/`, { host: 'echo.farm.test' });
    if (r.status === 200 && b.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
});
afterAll(async () => {
  await rig?.stop();
  echo?.closeAllConnections();
  echo?.close();
});

const edge = (host: string, extra: Record<string, string> = {}) => ({
  'x-edge-auth': rig.keys[0],
  'x-edge-host': host,
  ...extra,
});

describe('front: edge verification', () => {
  it('refuses a missing or wrong edge secret with 403 and sends nothing upstream', async () => {
    const before = rig.origin.stats().total;
    const missing = await get(`${rig.front.url}/secret-test/`, { host: 'alpha.farm.test' });
    const wrong = await get(`${rig.front.url}/secret-test/`, {
      'x-edge-auth': 'x'.repeat(48),
      'x-edge-host': 'alpha.farm.test',
    });
    expect([missing.status, wrong.status]).toEqual([403, 403]);
    expect(wrong.headers['x-router-error']).toBe('EDGE_AUTH_FAILED');
    expect(rig.origin.stats().total).toBe(before);
  });

  it('accepts both rotation keys', async () => {
    for (const key of rig.keys) {
      const r = await get(`${rig.front.url}/rotation/`, {
        'x-edge-auth': key,
        'x-edge-host': 'alpha.farm.test',
      });
      expect(r.status).toBe(200);
      expect(r.body).toContain('site-alpha');
    }
  });

  it('answers 421 for a host that is not in the registry', async () => {
    const r = await get(`${rig.front.url}/`, edge('nobody.farm.test'));
    expect(r.status).toBe(421);
    expect(r.headers['x-router-error']).toBe('UNKNOWN_HOST');
  });

  it('routes aliases to their site and serves a Varnish hit the second time', async () => {
    const a = await get(`${rig.front.url}/alias-page/`, edge('www.alpha.farm.test'));
    const b = await get(`${rig.front.url}/alias-page/`, edge('alpha.farm.test'));
    expect(a.status).toBe(200);
    expect([a.headers['x-cache'], b.headers['x-cache']]).toEqual(['MISS', 'HIT']);
  });
});

describe('headers toward the origin', () => {
  it('strips the edge headers, sets Host to the site, passes traceparent and x-request-id', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    // Raw socket: client libraries refuse a Connection header that names other headers.
    const raw = await rawRequest(
      rig.front.port,
      `GET /echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nx-edge-auth: ${rig.keys[0]}\r\nx-edge-host: echo.farm.test\r\n` +
        `x-request-id: req-123\r\ntraceparent: ${tp}\r\nx-farm-bypass: forged\r\nConnection: close, x-secret-hop\r\nx-secret-hop: 1\r\n\r\n`,
    );
    expect(raw.status).toBe(200);
    const seen = JSON.parse(raw.text.slice(raw.text.indexOf('\r\n\r\n') + 4)).headers as Record<
      string,
      string
    >;
    expect(seen.host).toBe('echo.farm.test');
    expect(seen['x-edge-auth']).toBeUndefined();
    expect(seen['x-edge-host']).toBeUndefined();
    expect(seen['x-secret-hop']).toBeUndefined();
    expect(seen['x-farm-bypass']).toBeUndefined();
    expect(seen['x-request-id']).toBe('req-123');
    expect(seen.traceparent).toBe(tp);
    expect(raw.text).toMatch(/\r\nx-request-id: req-123\r\n/i);
  });

  it('generates an x-request-id when the request has none', async () => {
    const r = await get(`${rig.front.url}/echo/`, edge('echo.farm.test'));
    const seen = JSON.parse(r.body).headers as Record<string, string>;
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers['x-request-id']).toBe(seen['x-request-id']);
  });

  it('streams a request body through both routers', async () => {
    const r = await get(
      `${rig.front.url}/wp-login.php`,
      edge('alpha.farm.test', { 'content-type': 'application/x-www-form-urlencoded' }),
      {
        method: 'POST',
        body: 'log=admin&pwd=secret',
      },
    );
    expect(r.status).toBe(302);
    expect(r.headers['set-cookie']).toMatch(/wordpress_logged_in_/);
  });

  it('answers HEAD with the GET headers and no body', async () => {
    await get(`${rig.front.url}/head-me/`, edge('alpha.farm.test'));
    const r = await get(`${rig.front.url}/head-me/`, edge('alpha.farm.test'), { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(Number(r.headers['content-length'])).toBeGreaterThan(1000);
    expect(r.body).toBe('');
  });

  it('forwards a POST sent with Expect: 100-continue (curl does this above 1 KB)', async () => {
    const body = 'log=admin&pwd=secret';
    const raw = await rawRequest(
      rig.front.port,
      `POST /wp-login.php HTTP/1.1\r\nHost: x\r\nx-edge-auth: ${rig.keys[0]}\r\nx-edge-host: alpha.farm.test\r\n` +
        `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n${body}`,
    );
    expect(raw.text).toMatch(/HTTP\/1\.1 302/);
    expect(raw.text).toMatch(/wordpress_logged_in_/);
  });
});

describe('back: maintenance and circuit breaker', () => {
  it('serves the maintenance page with 503 and Retry-After', async () => {
    const r = await get(`${rig.front.url}/`, edge('down.farm.test'));
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('300');
    expect(r.body).toContain('Briefly unavailable for scheduled maintenance');
  });

  it('opens the circuit after consecutive upstream failures and fails fast with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await get(`${rig.back.url}/x${i}`, { host: 'dead.farm.test' })).status);
    expect(statuses).toEqual([502, 502, 502]);
    const open = await get(`${rig.back.url}/x`, { host: 'dead.farm.test' });
    expect(open.status).toBe(503);
    expect(open.headers['x-router-error']).toBe('CIRCUIT_OPEN');
    expect(Number(open.headers['retry-after'])).toBeGreaterThan(0);
    // Other sites are unaffected.
    expect((await get(`${rig.back.url}/`, { host: 'alpha.farm.test' })).status).toBe(200);
  });
});

/** Sends a GET and hangs up after 100 ms, before the (delayed) answer: a client that went away. */
async function abandon(url: string, headers: Record<string, string>): Promise<void> {
  const { request } = await import('node:http');
  await new Promise<void>((resolve) => {
    const req = request(url, { headers });
    req.on('error', () => resolve());
    req.end();
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 100);
  });
}

describe('back: clients that go away', () => {
  it('do not count against the upstream: no circuit opens after more aborted requests than the threshold', async () => {
    await get(`${rig.origin.url}/__origin/delay?host=s8.farm.test&ms=400`);
    for (let i = 0; i < 5; i++) await abandon(`${rig.back.url}/gone-${i}/`, { host: 's8.farm.test' });
    await get(`${rig.origin.url}/__origin/delay?host=s8.farm.test&ms=0`);
    await new Promise((r) => setTimeout(r, 400)); // the aborted attempts have all ended upstream
    const after = await get(`${rig.back.url}/after-gone/`, { host: 's8.farm.test' });
    expect(after.headers['x-router-error']).toBeUndefined();
    expect(after.status).toBe(200);
  });
});

describe('front: clients that go away', () => {
  it('do not eject the Varnish node they were talking to', async () => {
    const host = 's9.farm.test';
    const before = await get(`${rig.front.url}/gone-front/`, edge(host));
    const node = before.headers['x-router-node'];
    expect(node).toBeTruthy();
    await get(`${rig.origin.url}/__origin/delay?host=${host}&ms=400`);
    for (let i = 0; i < 5; i++) await abandon(`${rig.front.url}/gone-front-${i}/`, edge(host));
    await get(`${rig.origin.url}/__origin/delay?host=${host}&ms=0`);
    await new Promise((r) => setTimeout(r, 400));
    const after = await get(`${rig.front.url}/gone-front-after/`, edge(host));
    expect(after.status).toBe(200);
    expect(after.headers['x-router-node']).toBe(node);
  });
});

describe('back: upstream timeouts', () => {
  it('answers 504 when WordPress does not send headers in time', async () => {
    await get(`${rig.origin.url}/__origin/delay?host=s7.farm.test&ms=3000`);
    const r = await get(`${rig.back.url}/slow/`, { host: 's7.farm.test' });
    expect(r.status).toBe(504);
    expect(r.headers['x-router-error']).toBe('UPSTREAM_TIMEOUT');
    await get(`${rig.origin.url}/__origin/delay?host=s7.farm.test&ms=0`);
  });
});

describe('limits and framing (raw sockets)', () => {
  const port = () => rig.front.port;

  it('refuses Content-Length together with Transfer-Encoding, and nothing reaches the origin', async () => {
    const before = rig.origin.stats().total;
    const r = await rawRequest(
      port(),
      `POST / HTTP/1.1\r\nHost: alpha.farm.test\r\nx-edge-auth: ${rig.keys[0]}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: alpha.farm.test\r\n\r\n`,
    );
    expect(r.status).toBe(400);
    expect(r.responses).toBe(1);
    expect(rig.origin.stats().total).toBe(before);
  });

  it('refuses differing repeated Content-Length', async () => {
    const r = await rawRequest(
      port(),
      `POST / HTTP/1.1\r\nHost: alpha.farm.test\r\nx-edge-auth: ${rig.keys[0]}\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`,
    );
    expect(r.status).toBe(400);
  });

  it.each([
    ['an obfuscated transfer-encoding', 'Transfer-Encoding: xchunked\r\n'],
    ['a space before the colon', 'Content-Length : 3\r\n'],
    ['a chunked, identity coding', 'Transfer-Encoding: chunked, identity\r\n'],
  ])('refuses %s', async (_name, header) => {
    const r = await rawRequest(
      port(),
      `POST / HTTP/1.1\r\nHost: alpha.farm.test\r\nx-edge-auth: ${rig.keys[0]}\r\n${header}\r\nabc`,
    );
    expect(r.status).toBe(400);
  });

  it('closes a slowloris connection with 408 and keeps serving others', async () => {
    const slow = rawRequest(port(), 'GET / HTTP/1.1\r\nHost: alpha.farm.test\r\n', {
      trickle: 'X-a: b\r\n',
      trickleMs: 200,
    });
    const normal = await get(`${rig.front.url}/during-slowloris/`, edge('alpha.farm.test'));
    expect(normal.status).toBe(200);
    const r = await slow;
    expect(r.status).toBe(408);
    expect(r.closed).toBe(true);
  });

  it('answers 431 for oversized headers, 414 for a long URL, 413 for a large body', async () => {
    const big = await rawRequest(port(), `GET / HTTP/1.1\r\nHost: a\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(big.status).toBe(431);
    const long = await get(`${rig.front.url}/${'a'.repeat(3000)}`, edge('alpha.farm.test'));
    expect(long.status).toBe(414);
    const body = await get(`${rig.front.url}/wp-comments-post.php`, edge('alpha.farm.test'), {
      method: 'POST',
      body: 'x'.repeat(2000),
    });
    expect(body.status).toBe(413);
  });

  it('answers 413 for a chunked body that grows past the limit', async () => {
    const chunk = 'a'.repeat(600);
    const r = await rawRequest(
      port(),
      `POST /wp-comments-post.php HTTP/1.1\r\nHost: x\r\nx-edge-auth: ${rig.keys[0]}\r\nx-edge-host: alpha.farm.test\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n${chunk}\r\n258\r\n${chunk}\r\n0\r\n\r\n`,
    );
    expect(r.status).toBe(413);
  });
});

describe('observability', () => {
  it('exposes metrics by site class and status, and node availability', async () => {
    const r = await get(`http://127.0.0.1:${rig.front.metricsPort}/metrics`);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/router_requests_total\{site_class="standard",status="200",role="front"\} \d+/);
    expect(r.body).toMatch(/router_requests_total\{site_class="unknown",status="403",role="front"\} \d+/);
    expect(r.body).toMatch(/router_node_available\{node="varnish-1",role="front"\} 1/);
    expect(r.body).toMatch(/router_upstream_duration_seconds_bucket/);
    const b = await get(`http://127.0.0.1:${rig.back.metricsPort}/metrics`);
    expect(b.body).toMatch(/router_circuit_opened_total\{role="back"\} [1-9]/);
    expect(b.body).toMatch(/router_requests_total\{site_class="maintenance",status="503",role="back"\} \d+/);
  });
});
