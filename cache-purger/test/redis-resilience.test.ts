import { mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisArgs, startRedis } from '@wpfarm/common/peers/redis';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Peers, sendWebhooks, startPeers, startPurger, until } from './helpers.ts';

/**
 * The purger and Redis coming and going under it, with real redis-server processes: in Swarm,
 * Redis sits behind redis-master (HAProxy), which closes connections until it knows the master,
 * and a failover leaves established connections on a demoted master. Regression for the Swarm
 * deploy where the purger exited on its first `Connection is closed` and died of READONLY. Each
 * test asserts the process is still running and that purges accepted afterwards reach every
 * Varnish node (counted in each node's varnishlog) and the edge.
 */
let p: Peers;
beforeAll(async () => {
  p = await startPeers('purger-redis');
});
afterAll(async () => {
  await p?.stop();
});

type Purger = Awaited<ReturnType<typeof startPurger>>;
const health = async (purger: Purger) => {
  const res = await fetch(`${purger.url}/healthz`);
  return { status: res.status, body: (await res.json()) as { ok: boolean; redis: string } };
};
const running = async (purger: Purger) =>
  Promise.race([purger.proc.exited.then(() => false), sleep(50).then(() => true)]);

/** Sends one tagged purge until it is accepted (as WordPress retries a 503), then waits for it everywhere. */
async function deliveredEverywhere(purger: Purger, tag: string): Promise<void> {
  await until(`${tag} accepted`, async () => {
    const [r] = await sendWebhooks(purger.url, [{ site: 'alpha', tags: [tag] }]);
    return r!.status === 202;
  });
  for (const log of p.logs) await until(`${log.proc.name} got ${tag}`, () => log.keys().has(tag));
  await until(`the edge got ${tag}`, () => p.edge.tags().has(tag));
}

/** A TCP proxy whose target can be switched; established connections stay where they are. */
async function startSwitch(target: number) {
  let to = target;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = createConnection(to, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    accepted: () => accepted,
    to: (port: number) => {
      to = port;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

async function startReplica(of: number, name: string): Promise<ManagedProcess & { port: number }> {
  const port = await freePort();
  const args = redisArgs(port, join(p.dir, name), false).concat(['--replicaof', '127.0.0.1', String(of)]);
  mkdirSync(join(p.dir, name), { recursive: true });
  const proc = await startProcess({
    name,
    command: 'redis-server',
    args,
    logFile: join(p.dir, `${name}.log`),
    ready: { tcp: port },
  });
  const r = new Redis(`redis://127.0.0.1:${port}`, { protocol: 2, lazyConnect: true });
  try {
    await until(`${name} in sync`, async () =>
      (await r.info('replication')).includes('master_link_status:up'),
    );
  } finally {
    r.disconnect();
  }
  return Object.assign(proc, { port });
}

const restartRedis = async () => {
  p.redis = await startRedis({ dir: join(p.dir, 'redis'), port: p.redisPort });
};

describe('the purger outlives Redis', () => {
  it('started before Redis is up: 503 meanwhile, no exit; ready once Redis is, and its purges arrive', async () => {
    await p.redis.stop();
    const purger = await startPurger(p, {}, 'purger-early', { waitForRedis: false });
    try {
      const h = await health(purger);
      expect(h.status).toBe(503);
      expect(h.body.ok).toBe(false);
      expect(h.body.redis).not.toBe('ready');
      const [during] = await sendWebhooks(purger.url, [{ site: 'alpha', tags: ['alpha-p-early0'] }]);
      expect(during!.status).toBe(503);
      await sleep(2_000); // several reconnection attempts, each refused
      expect(await running(purger)).toBe(true);
      await restartRedis();
      await until('healthy', async () => (await health(purger)).status === 200);
      await deliveredEverywhere(purger, 'alpha-p-early1');
    } finally {
      await purger.proc.stop();
    }
  });

  it('SIGTERM while Redis is away: exits 0 at once, not after the grace period', async () => {
    await p.redis.stop();
    const purger = await startPurger(p, { SHUTDOWN_GRACE_MS: '8000' }, 'purger-term-away', {
      waitForRedis: false,
    });
    try {
      await sleep(1_000); // the workers are waiting for a connection
      const started = Date.now();
      purger.proc.signal('SIGTERM');
      expect(await purger.proc.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await purger.proc.stop();
      await restartRedis();
    }
  });

  it('Redis killed (-9) and restarted under it: no exit, /healthz 503 while away, purges after it arrive', async () => {
    const purger = await startPurger(p, {}, 'purger-killed');
    try {
      await deliveredEverywhere(purger, 'alpha-p-killed0');
      p.redis.process.signal('SIGKILL');
      await p.redis.process.exited;
      await until('unhealthy', async () => (await health(purger)).status === 503);
      await sleep(1_500);
      expect(await running(purger)).toBe(true);
      await restartRedis();
      await until('healthy', async () => (await health(purger)).status === 200);
      await deliveredEverywhere(purger, 'alpha-p-killed1');
    } finally {
      await purger.proc.stop();
    }
  });

  it('Redis back empty (its data lost): the workers recreate their groups, new purges arrive', async () => {
    const purger = await startPurger(p, {}, 'purger-empty');
    try {
      await deliveredEverywhere(purger, 'alpha-p-empty0');
      await p.redis.stop();
      rmSync(join(p.dir, 'redis'), { recursive: true, force: true });
      await restartRedis();
      await until('healthy', async () => (await health(purger)).status === 200);
      await deliveredEverywhere(purger, 'alpha-p-empty1');
      expect(await running(purger)).toBe(true);
    } finally {
      await purger.proc.stop();
    }
  });

  it('a replica behind the URL from the start: never healthy there, no exit; the master once the URL leads to it', async () => {
    const replica = await startReplica(p.redisPort, 'replica-start');
    const sw = await startSwitch(replica.port);
    const purger = await startPurger(p, { REDIS_URL: `redis://127.0.0.1:${sw.port}` }, 'purger-replica', {
      waitForRedis: false,
    });
    try {
      const seen = new Set<number>();
      const deadline = Date.now() + 2_500;
      while (Date.now() < deadline) {
        seen.add((await health(purger)).status);
        await sleep(100);
      }
      expect([...seen]).toEqual([503]); // connected, but to a replica: not ready
      const [during] = await sendWebhooks(purger.url, [{ site: 'alpha', tags: ['alpha-p-replica0'] }]);
      expect(during!.status).toBe(503);
      // It does not sit on the replica: every client keeps reconnecting (5: intake, 3 nodes, edge).
      expect(sw.accepted()).toBeGreaterThan(10);
      expect(await running(purger)).toBe(true);
      sw.to(p.redisPort);
      await until('healthy', async () => (await health(purger)).status === 200);
      await deliveredEverywhere(purger, 'alpha-p-replica1');
    } finally {
      await purger.proc.stop();
      await sw.close();
      await replica.stop();
    }
  });

  it('failover under it: connections left on the demoted master get READONLY, reconnect, and purges arrive', async () => {
    const replica = await startReplica(p.redisPort, 'replica-failover');
    const sw = await startSwitch(p.redisPort);
    const purger = await startPurger(p, { REDIS_URL: `redis://127.0.0.1:${sw.port}` }, 'purger-failover');
    const master = new Redis(`redis://127.0.0.1:${p.redisPort}`, { protocol: 2 });
    const promoted = new Redis(`redis://127.0.0.1:${replica.port}`, { protocol: 2 });
    try {
      await deliveredEverywhere(purger, 'alpha-p-failover0');
      const before = sw.accepted();
      // Sentinel's failover, with a proxy that does not cut sessions: new connections go to the
      // promoted replica, the purger's established ones stay on the old master, now a replica.
      sw.to(replica.port);
      await promoted.replicaof('NO', 'ONE');
      await master.replicaof('127.0.0.1', replica.port);
      await deliveredEverywhere(purger, 'alpha-p-failover1');
      expect(sw.accepted()).toBeGreaterThan(before); // it reconnected, nobody cut its connections
      // The path under test ran: the demoted master refused writes (READONLY) from the purger.
      const rejected = [...(await master.info('commandstats')).matchAll(/rejected_calls=(\d+)/g)];
      expect(rejected.reduce((n, m) => n + Number(m[1]), 0)).toBeGreaterThan(0);
      expect(await running(purger)).toBe(true);
    } finally {
      await purger.proc.stop();
      await master.replicaof('NO', 'ONE').catch(() => {});
      master.disconnect();
      promoted.disconnect();
      await sw.close();
      await replica.stop();
    }
  });
});
