import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisInstance, startRedis } from '@wpfarm/common/peers/redis';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { createMetrics } from '../src/metrics.ts';
import { NodeWorker } from '../src/node-worker.ts';
import { KEYS, Queue } from '../src/queue.ts';
import { VarnishClient } from '../src/varnish-client.ts';
import { REGISTRY_FILE, until } from './helpers.ts';

/**
 * Regression: a request Varnish refuses with 400 must not stall the node's queue forever (it
 * cannot succeed on retry). Real Redis; the node is a small HTTP server answering like the VCL
 * (400 for one poisoned xkey purge, 200 otherwise), because the real VCL refuses nothing the
 * purger's validated input can produce. (Tags, not bans: Node's parser rejects the BAN method.)
 */
let dir: string;
let redisPeer: RedisInstance;
let node: Server;
const seen: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'purger-poison-'));
  redisPeer = await startRedis({ dir });
  node = createServer((req, res) => {
    const keys = String(req.headers['xkey-purge'] ?? '');
    seen.push(keys);
    res.writeHead(keys.includes('poison') ? 400 : 200).end();
  });
  await new Promise<void>((r) => node.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  node?.closeAllConnections();
  node?.close();
  await redisPeer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('a job whose request Varnish refuses (400) is recorded as failed for that node; later jobs flow', async () => {
  const port = (node.address() as AddressInfo).port;
  const config = loadConfig({
    REDIS_URL: redisPeer.url,
    REGISTRY_FILE,
    VARNISH_NODES: `varnish-1=http://127.0.0.1:${port}`,
    VARNISH_PURGE_SECRET: 's',
    PURGE_COALESCE_MS: '0',
    PURGE_RETRY_BASE_MS: '10',
    PURGE_RETRY_MAX_MS: '50',
    PURGE_REQUEST_TIMEOUT_MS: '1000',
  });
  const registry = await loadRegistry(REGISTRY_FILE);
  const main = new Redis(redisPeer.url, { protocol: 2 });
  const wr = new Redis(redisPeer.url, { protocol: 2 });
  const queue = new Queue(main, 1, 3600);
  await queue.ensureGroup(KEYS.jobs, KEYS.group('varnish-1'));
  const poisoned = (await queue.enqueue(
    { site: 'alpha', tags: ['alpha-poison'] },
    'n'.repeat(16),
    undefined,
    60,
  ))!.id;
  const client = new VarnishClient(config.nodes[0]!, 's', 1000);
  const worker = new NodeWorker({
    queue: new Queue(wr, 1, 3600),
    client,
    registry: () => registry,
    config,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(undefined, []),
  });
  worker.start();
  try {
    await until(
      'poisoned job resolved',
      async () => (await queue.status(poisoned))?.['node:varnish-1'] !== undefined,
    );
    expect((await queue.status(poisoned))?.['node:varnish-1']).toBe('failed');
    const later = (await queue.enqueue({ site: 'beta', tags: ['beta-fine'] }, 'm'.repeat(16), undefined, 60))!
      .id;
    await until('later job done', async () => (await queue.status(later))?.['node:varnish-1'] === 'done');
    expect(seen.filter((k) => k === 'alpha-poison')).toHaveLength(1); // refused once, not retried
  } finally {
    await worker.stop();
    await client.close();
    main.disconnect();
    wr.disconnect();
  }
});
