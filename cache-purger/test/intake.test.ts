import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PURGE_LIMITS } from '@wpfarm/common/contracts/purge';
import { signBody } from '@wpfarm/common/contracts/signing';
import { CONNECTION_LIMIT_DEFAULTS } from '@wpfarm/common/http-limits';
import { type RedisInstance, startRedis } from '@wpfarm/common/peers/redis';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { createMetrics } from '../src/metrics.ts';
import { KEYS, Queue } from '../src/queue.ts';
import { resolveSiteSecrets } from '../src/secrets.ts';
import { REGISTRY_FILE, SECRETS, secretOf, until } from './helpers.ts';

/** The webhook door, in process (`inject`), against a real redis-server. */
let dir: string;
let redisPeer: RedisInstance;
let redis: Redis;
let app: ReturnType<typeof buildApp>['app'];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'purger-intake-'));
  redisPeer = await startRedis({ dir });
  redis = new Redis(redisPeer.url, {
    protocol: 2,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: true,
  });
  redis.on('error', () => {});
  await redis.connect();
  const registry = await loadRegistry(REGISTRY_FILE);
  const queue = new Queue(redis, 3, 3600);
  app = buildApp({
    queue,
    registry: () => registry,
    secrets: resolveSiteSecrets(registry, SECRETS),
    metrics: createMetrics(undefined, []),
    logger: pino({ level: 'silent' }),
    retryAfterSeconds: 7,
  }).app;
});
afterAll(async () => {
  await app?.close();
  redis?.disconnect();
  await redisPeer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A second app on a real socket (listen(0)) with its own connection limits. */
async function smallApp(limits: { headersTimeoutMs: number; maxConnections: number }) {
  const registry = await loadRegistry(REGISTRY_FILE);
  const built = buildApp({
    queue: new Queue(redis, 3, 3600),
    registry: () => registry,
    secrets: resolveSiteSecrets(registry, SECRETS),
    metrics: createMetrics(undefined, []),
    logger: pino({ level: 'silent' }),
    retryAfterSeconds: 7,
    connections: { ...CONNECTION_LIMIT_DEFAULTS, ...limits },
  });
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  return built;
}

function post(body: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/v1/purge',
    headers: { 'content-type': 'application/json', ...headers },
    payload: body,
  });
}
const signed = (site: string, obj: unknown, now?: number) => {
  const text = typeof obj === 'string' ? obj : JSON.stringify(obj);
  return post(text, { ...signBody(secretOf(site), text, now) });
};

describe('POST /v1/purge', () => {
  it('202 with a job id only once the job is in the stream; the job reports every node pending', async () => {
    const res = await signed('alpha', {
      site: 'alpha',
      urls: ['http://www.alpha.farm.test/a/'],
      tags: ['alpha-p-1'],
    });
    expect(res.statusCode).toBe(202);
    const id = res.json().job as string;
    const entries = (await redis.call('XRANGE', KEYS.jobs, id, id)) as [string, string[]][];
    expect(entries).toHaveLength(1);
    expect(JSON.parse(entries[0]![1][3]!)).toEqual({
      site: 'alpha',
      urls: ['http://www.alpha.farm.test/a/'],
      tags: ['alpha-p-1'],
    });
    const status = (await app.inject({ url: `/v1/jobs/${id}` })).json();
    expect(status).toMatchObject({ job: id, site: 'alpha', nodes: {}, nodesPending: 3, edge: 'waiting' });
  });

  it('the same signed request twice: the replay gets 401 REPLAYED and is not queued', async () => {
    const text = JSON.stringify({ site: 'beta', tags: ['beta-p-9'] });
    const headers = signBody(secretOf('beta'), text);
    const before = Number(await redis.xlen(KEYS.jobs));
    expect((await post(text, { ...headers })).statusCode).toBe(202);
    const replay = await post(text, { ...headers });
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error.code).toBe('REPLAYED');
    expect(Number(await redis.xlen(KEYS.jobs))).toBe(before + 1);
  });

  it.each([
    ['bad JSON', () => signed('alpha', '{"site": "alpha", '), 400, 'BAD_JSON', undefined],
    ['unknown field', () => signed('alpha', { site: 'alpha', regex: '.*' }), 400, 'BAD_REQUEST', 'regex'],
    [
      'a pattern as URL',
      () => signed('alpha', { site: 'alpha', urls: ['http://alpha.farm.test/(.*)'] }),
      400,
      'BAD_REQUEST',
      'urls[0]',
    ],
    ['nothing to purge', () => signed('alpha', { site: 'alpha' }), 400, 'BAD_REQUEST', undefined],
    [
      'wrong secret',
      () =>
        post('{"site":"alpha","all":true}', { ...signBody('not-the-secret', '{"site":"alpha","all":true}') }),
      401,
      'BAD_SIGNATURE',
      undefined,
    ],
    ['unsigned', () => post('{"site":"alpha","all":true}'), 401, 'BAD_SIGNATURE', undefined],
    [
      'tampered body',
      () =>
        post('{"site":"alpha","all":true }', {
          ...signBody(secretOf('alpha'), '{"site":"alpha","all":true}'),
        }),
      401,
      'BAD_SIGNATURE',
      undefined,
    ],
    [
      'expired timestamp',
      () => signed('alpha', { site: 'alpha', all: true }, Date.now() - 301_000),
      401,
      'BAD_SIGNATURE',
      undefined,
    ],
    [
      'signed by another site',
      () =>
        post('{"site":"alpha","all":true}', { ...signBody(secretOf('beta'), '{"site":"alpha","all":true}') }),
      401,
      'BAD_SIGNATURE',
      undefined,
    ],
    ['unknown site', () => signed('alpha', { site: 'nosuch', all: true }), 401, 'UNKNOWN_SITE', 'site'],
    [
      'another site’s host',
      () => signed('alpha', { site: 'alpha', urls: ['http://beta-shop.farm.test/'] }),
      403,
      'FORBIDDEN_HOST',
      'urls[0]',
    ],
    [
      'another site’s tag',
      () => signed('alpha', { site: 'alpha', tags: ['beta-p-1'] }),
      403,
      'FORBIDDEN_TAG',
      'tags[0]',
    ],
    [
      'oversize body',
      () => signed('alpha', { site: 'alpha', tags: ['alpha-x'], pad: 'x'.repeat(PURGE_LIMITS.bodyBytes) }),
      413,
      'BODY_TOO_LARGE',
      undefined,
    ],
    [
      'not JSON content type',
      () =>
        app.inject({
          method: 'POST',
          url: '/v1/purge',
          headers: { 'content-type': 'text/plain' },
          payload: 'x',
        }),
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      undefined,
    ],
  ])('%s → %i %s', async (_name, send, status, code, field) => {
    const res = await send();
    expect(res.statusCode).toBe(status);
    const body = res.json();
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe('string');
    expect(body.error.field).toBe(field);
  });

  it('invalid UTF-8 in a signed body → 400 BAD_ENCODING, nothing queued (was decoded to U+FFFD and accepted)', async () => {
    const before = Number(await redis.xlen(KEYS.jobs));
    for (const bad of [
      Buffer.from([0xff]), // never valid
      Buffer.from([0xc3]), // a truncated two-byte sequence
      Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate encoded as UTF-8
    ]) {
      const raw = Buffer.concat([Buffer.from('{"site":"alpha","tags":["alpha-p-'), bad, Buffer.from('"]}')]);
      const res = await app.inject({
        method: 'POST',
        url: '/v1/purge',
        headers: { 'content-type': 'application/json', ...signBody(secretOf('alpha'), raw) },
        payload: raw,
      });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('BAD_ENCODING');
    }
    expect(Number(await redis.xlen(KEYS.jobs))).toBe(before);
    // Valid UTF-8 beyond ASCII is a purge: it is the broken encoding that is refused.
    const ok = Buffer.from('{"site":"alpha","urls":["http://alpha.farm.test/café/"]}', 'utf8');
    const good = await app.inject({
      method: 'POST',
      url: '/v1/purge',
      headers: { 'content-type': 'application/json', ...signBody(secretOf('alpha'), ok) },
      payload: ok,
    });
    expect(good.statusCode).toBe(202);
  });

  it('a retry of an accepted change (same event, new nonce) gets 202 with the first job, queued once', async () => {
    const body = { site: 'gamma', urls: ['http://gamma.farm.test/retried/'], event: 'wp-change-0001' };
    const before = Number(await redis.xlen(KEYS.jobs));
    const first = await signed('gamma', body);
    expect(first.statusCode).toBe(202);
    const id = first.json().job as string;
    // Each retry is signed afresh (new nonce, later timestamp): a new request, the same change.
    for (let i = 0; i < 3; i++) {
      const again = await signed('gamma', body);
      expect(again.statusCode).toBe(202);
      expect(again.json()).toEqual({ job: id, status: `/v1/jobs/${id}`, duplicate: true });
    }
    expect(Number(await redis.xlen(KEYS.jobs))).toBe(before + 1);
    expect(await redis.get(KEYS.event('gamma', 'wp-change-0001'))).toBe(id);
    const ttl = await redis.ttl(KEYS.event('gamma', 'wp-change-0001'));
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
    // The same event id from another site is another change.
    const other = await signed('alpha', {
      ...body,
      site: 'alpha',
      urls: ['http://alpha.farm.test/retried/'],
    });
    expect(other.statusCode).toBe(202);
    expect(other.json().job).not.toBe(id);
    expect(other.json().duplicate).toBeUndefined();
    // Without an event every signed webhook is its own job, as before.
    const plain = { site: 'gamma', urls: ['http://gamma.farm.test/plain/'] };
    const a = (await signed('gamma', plain)).json().job;
    const b = (await signed('gamma', plain)).json().job;
    expect(a).not.toBe(b);
    const metrics = await (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/purger_webhooks_total\{code="DUPLICATE_EVENT"\} 3/);
  });

  it('concurrent retries of one change: exactly one job', async () => {
    const body = { site: 'beta', tags: ['beta-p-concurrent'], event: 'wp-change-concurrent' };
    const before = Number(await redis.xlen(KEYS.jobs));
    const res = await Promise.all(Array.from({ length: 20 }, () => signed('beta', body)));
    expect(res.every((r) => r.statusCode === 202)).toBe(true);
    expect(new Set(res.map((r) => r.json().job)).size).toBe(1);
    expect(res.filter((r) => r.json().duplicate === true)).toHaveLength(19);
    expect(Number(await redis.xlen(KEYS.jobs))).toBe(before + 1);
  });

  it('a connection that never sends a byte is answered 408 and closed after the headers timeout', async () => {
    const { app: small } = await smallApp({ headersTimeoutMs: 300, maxConnections: 100 });
    try {
      const socket = connect((small.server.address() as AddressInfo).port, '127.0.0.1');
      let data = '';
      socket.on('data', (d) => (data += d));
      // A bound, not a speed assertion: 300 ms of timeout checked every 75 ms closes it well
      // within 5 s; Fastify's own server kept such a connection open for 60 s.
      const closed = await Promise.race([
        new Promise((r) => socket.on('close', () => r(true))),
        sleep(5_000).then(() => false),
      ]);
      socket.destroy();
      expect(closed).toBe(true);
      expect(data).toMatch(/^HTTP\/1\.1 408/);
    } finally {
      await small.close();
    }
  });

  it('connections over PURGER_MAX_CONNECTIONS are closed on accept and counted in /metrics', async () => {
    const { app: small } = await smallApp({ headersTimeoutMs: 10_000, maxConnections: 2 });
    const port = (small.server.address() as AddressInfo).port;
    const held = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    try {
      await Promise.all(held.map((s) => new Promise((r) => s.on('connect', r))));
      await until('both connections counted', async () =>
        /purger_connections_open 2\b/.test((await small.inject({ url: '/metrics' })).body),
      );
      const third = connect(port, '127.0.0.1');
      third.on('error', () => {});
      await new Promise((r) => third.on('close', r));
      await until('the refused one counted', async () =>
        /purger_connections_refused_total 1\b/.test((await small.inject({ url: '/metrics' })).body),
      );
    } finally {
      for (const s of held) s.destroy();
      await small.close();
    }
  });

  it('unknown job → 404 NOT_FOUND; malformed id → 400', async () => {
    expect((await app.inject({ url: '/v1/jobs/1-0' })).json().error.code).toBe('NOT_FOUND');
    expect((await app.inject({ url: '/v1/jobs/abc' })).statusCode).toBe(400);
  });

  it('trimming keeps every entry some node still needs (pending or not yet read)', async () => {
    const q = new Queue(redis, 2, 3600);
    const stream = 'purge:test-trim';
    await q.ensureGroup(stream, 'a');
    await q.ensureGroup(stream, 'b');
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await redis.xadd(stream, '*', 'n', String(i))) as string);
    const readA = await q.read(stream, 'a', 'c', 4, 0); // a holds 0..3 pending
    await redis.xack(stream, 'a', readA[0]!.id, readA[1]!.id); // a still needs 2, 3 (and 4, 5)
    const readB = await q.read(stream, 'b', 'c', 6, 0);
    await redis.xack(stream, 'b', ...readB.map((e) => e.id)); // b is done with everything
    const left = async () =>
      ((await redis.call('XRANGE', stream, '-', '+')) as [string, unknown][]).map((e) => e[0]);
    // A node whose group is missing (Redis came back empty, its worker not yet reconnected) would
    // start from the first entry: nothing is trimmed until every group exists.
    await q.trim(stream, ['a', 'b', 'c'], false);
    expect(await left()).toEqual(ids);
    await q.trim(stream, ['a', 'b'], false);
    expect(await left()).toEqual(ids.slice(2));
  });

  it('Redis down → 503 QUEUE_UNAVAILABLE with Retry-After, never a 202', async () => {
    await redisPeer.stop();
    const res = await signed('gamma', { site: 'gamma', all: true });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('7');
    expect(res.json().error.code).toBe('QUEUE_UNAVAILABLE');
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(503);
  });
});
