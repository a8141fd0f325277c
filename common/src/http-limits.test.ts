import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { bearerMatches } from './bearer.ts';
import { capConnections, timeoutOptions } from './http-limits.ts';
import { createServer } from './node-http.ts';

const servers: import('node:http').Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function listen(limits: Parameters<typeof timeoutOptions>[0], max: number) {
  const server = createServer(timeoutOptions(limits), (_req, res) => res.end('ok'));
  servers.push(server);
  const counts = capConnections(server, max);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as import('node:net').AddressInfo).port, counts };
}

function silentSocket(port: number) {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  socket.on('data', (d) => (data += d));
  const closed = new Promise<string>((r) => socket.on('close', () => r(data)));
  socket.on('error', () => {});
  return { socket, closed };
}

describe('connection limits', () => {
  it('answers 408 and closes a connection that never sends a byte, within the headers timeout', async () => {
    const { port, counts } = await listen(
      { headersTimeoutMs: 400, requestTimeoutMs: 1000, keepAliveTimeoutMs: 500 },
      10,
    );
    const started = Date.now();
    const { closed } = silentSocket(port);
    const data = await closed;
    expect(data).toMatch(/^HTTP\/1\.1 408/);
    // Far below Node's defaults (60 s headers timeout, 30 s checks): the derived interval is what closes it.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(counts.open()).toBe(0);
  });

  it("regression: Node's last check falls within the timeout (it closed silent connections at up to 1.25×)", () => {
    for (const headersTimeoutMs of [100, 400, 10_000, 60_000]) {
      const o = timeoutOptions({ headersTimeoutMs, requestTimeoutMs: 1, keepAliveTimeoutMs: 1 });
      // Node closes at the first check after headersTimeout: at most headersTimeout + interval.
      expect(o.headersTimeout! + o.connectionsCheckingInterval!).toBeLessThanOrEqual(headersTimeoutMs);
      expect(o.requestTimeout).toBeGreaterThanOrEqual(o.headersTimeout!);
    }
  });

  it('destroys connections over the cap and counts them', async () => {
    const { port, counts } = await listen(
      { headersTimeoutMs: 5000, requestTimeoutMs: 5000, keepAliveTimeoutMs: 500 },
      2,
    );
    const held = [silentSocket(port), silentSocket(port)];
    await new Promise((r) => setTimeout(r, 100));
    const third = silentSocket(port);
    expect(await third.closed).toBe('');
    expect(counts.refused()).toBe(1);
    expect(counts.open()).toBe(2);
    for (const h of held) h.socket.destroy();
  });
});

describe('bearerMatches', () => {
  it.each([
    ['Bearer s3cret-token', true],
    ['bearer s3cret-token', true],
    ['BEARER   s3cret-token ', true],
    ['Bearer s3cret-tokex', false],
    ['Basic s3cret-token', false],
    ['Bearers3cret-token', false],
    ['Bearer s3cret-token extra', false],
    ['', false],
  ])('%j → %s', (header, ok) => {
    expect(bearerMatches(header, 's3cret-token')).toBe(ok);
  });

  it('never matches an empty or missing expected token', () => {
    expect(bearerMatches('Bearer ', '')).toBe(false);
    expect(bearerMatches('Bearer x', undefined)).toBe(false);
    expect(bearerMatches(undefined, 'x')).toBe(false);
  });
});
