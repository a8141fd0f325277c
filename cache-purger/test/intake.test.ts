import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PURGE_LIMITS } from '@wpfarm/common/contracts/purge';
import { signBody } from '@wpfarm/common/contracts/signing';
import { type RedisInstance, startRedis } from '@wpfarm/common/peers/redis';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';
import { createMetrics } from '../src/metrics.ts';
import { KEYS, Queue } from '../src/queue.ts';
import { resolveSiteSecrets } from '../src/secrets.ts';
import { REGISTRY_FILE, SECRETS, secretOf } from './helpers.ts';

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
