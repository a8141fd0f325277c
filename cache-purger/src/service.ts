import { readFileSync } from 'node:fs';
import { loadRegistry } from '@wpfarm/common/registry/load';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { CloudflareClient } from './cloudflare.ts';
import { CloudflareDelivery } from './cloudflare-delivery.ts';
import type { Config } from './config.ts';
import { EdgeWorkerDelivery } from './edge-delivery.ts';
import { createMetrics } from './metrics.ts';
import { type RestartWatch, watchRestarts } from './node-watch.ts';
import { NodeWorker } from './node-worker.ts';
import { KEYS, Queue } from './queue.ts';
import { createRedis, type PurgerRedis } from './redis-client.ts';
import { resolveSiteSecrets } from './secrets.ts';
import { varnishIdentity } from './varnish-admin.ts';
import { VarnishClient } from './varnish-client.ts';

/** A running purger: its HTTP address and a graceful stop. */
export interface Service {
  url: string;
  port: number;
  /** Stop intake, finish in-flight requests and deliveries, acknowledge, close Redis. */
  stop(): Promise<void>;
}

/**
 * Wires config → Redis, registry, secrets, queue, one worker per Varnish node, the edge delivery,
 * and the HTTP app, then listens. server.ts calls this with the validated environment.
 */
export async function startService(
  config: Config,
  env: Record<string, string | undefined>,
  logger: Logger,
): Promise<Service> {
  const registry = await loadRegistry(config.registryFile);
  const secrets = resolveSiteSecrets(registry, env, config.secretsDir);
  if (secrets.missing.length)
    logger.warn({ sites: secrets.missing }, 'sites without a webhook secret: their webhooks get 401');

  // Intake fails fast when Redis is away (503, WordPress retries) instead of queueing in memory:
  // an in-memory queue would turn a 202 into a promise we could not keep. Nothing here waits for
  // Redis: the clients connect (and reconnect) in the background, /healthz says 503 until the
  // intake's connection is ready on the master, and each worker creates its consumer group once
  // Redis answers (redis-master may close connections until it knows the master).
  const intake = createRedis(config.redisUrl, 'intake', logger);
  const redis = intake.client;
  const queue = new Queue(redis, config.nodes.length, config.jobTtlSeconds);
  const groups = config.nodes.map((n) => KEYS.group(n.name));

  const metrics = createMetrics(
    queue,
    config.nodes.map((n) => n.name),
  );
  // Blocking reads hold their connection, so every worker has its own.
  const workerRedis: PurgerRedis[] = [];
  const dup = (name: string) => {
    const r = createRedis(config.redisUrl, 'worker', logger, name);
    workerRedis.push(r);
    return r.client;
  };
  const watches: RestartWatch[] = [];
  const clients: VarnishClient[] = [];
  /** The delivery loops (one per node, the edge worker, Cloudflare) with the connection each acknowledges through. */
  const loops: { stop(): Promise<void>; redis: Redis }[] = [];
  const workers = config.nodes.map((node) => {
    const r = dup(node.name);
    let watch: RestartWatch | undefined;
    const admin = node.admin;
    const secretFile = admin?.secretFile ?? config.varnishAdminSecretFile;
    if (admin && secretFile) {
      watch = watchRestarts(
        r,
        node.name,
        // Read per probe: a restarted varnishd may come with a new secret file.
        () => varnishIdentity(admin.host, admin.port, readFileSync(secretFile), config.requestTimeoutMs),
        config.nodeProbeMs,
        (cutoff) =>
          logger.warn(
            { node: node.name, cutoff: new Date(cutoff).toISOString() },
            'node restarted: older jobs are skipped',
          ),
        (err) => logger.debug({ node: node.name, err: err.message }, 'node probe failed'),
      );
      watches.push(watch);
    }
    const client = new VarnishClient(node, config.varnishPurgeSecret, config.requestTimeoutMs);
    clients.push(client);
    const worker = new NodeWorker({
      queue: new Queue(r, config.nodes.length, config.jobTtlSeconds),
      client,
      registry: () => registry,
      config,
      logger,
      metrics,
      ...(watch ? { watch } : {}),
    });
    loops.push({ stop: () => worker.stop(), redis: r });
    return worker;
  });
  // The edge worker and Cloudflare each read `purge:edge` through their own group and connection:
  // Cloudflare's rate limits never hold the edge worker's purge back, nor the other way round.
  const edgeRedis = dup('edge');
  const edge = new EdgeWorkerDelivery({
    queue: new Queue(edgeRedis, config.nodes.length, config.jobTtlSeconds),
    config,
    logger,
    metrics,
  });
  loops.push({ stop: () => edge.stop(), redis: edgeRedis });
  const cloudflareRedis = dup('cloudflare');
  const cloudflare = new CloudflareDelivery({
    queue: new Queue(cloudflareRedis, config.nodes.length, config.jobTtlSeconds),
    registry: () => registry,
    config,
    logger,
    metrics,
    ...(config.cloudflare
      ? { cloudflare: new CloudflareClient(config.cloudflare, config.requestTimeoutMs) }
      : {}),
  });
  loops.push({ stop: () => cloudflare.stop(), redis: cloudflareRedis });
  for (const w of workers) w.start();
  edge.start();
  cloudflare.start();

  const trimmer = setInterval(() => {
    // Never below a group that does not exist yet (a worker creates it once Redis answers).
    Promise.all([
      queue.trim(KEYS.jobs, groups),
      queue.trim(KEYS.edge, [KEYS.edgeGroup, KEYS.cloudflareGroup]),
    ]).catch((err) => logger.debug({ err: (err as Error).message }, 'trim failed'));
  }, 10_000);
  trimmer.unref();

  const { app, drain } = buildApp({
    queue,
    registry: () => registry,
    secrets,
    metrics,
    logger,
    retryAfterSeconds: config.retryAfterSeconds,
    redisState: () => ({ ok: intake.writable(), state: intake.state() }),
    connections: config.connections,
  });
  await app.listen({ host: config.host, port: config.port });
  const port = (app.server.address() as { port: number }).port;
  logger.info(
    { port, nodes: config.nodes.map((n) => n.name), edge: !!config.edge, cloudflare: !!config.cloudflare },
    'cache-purger listening',
  );

  let stopping: Promise<void> | undefined;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    stop: () => {
      stopping ??= (async () => {
        drain();
        await app.close();
        clearInterval(trimmer);
        for (const w of watches) w.stop();
        // A loop finishes (acknowledges) through Redis only. With its connection away, its queued
        // command would wait past the grace period (ioredis keeps it until a reconnect): it is
        // not waited for, and what it holds stays pending for the next purger (same consumer
        // name, or XAUTOCLAIM).
        await Promise.all(
          loops.map((l) => {
            const stopped = l.stop();
            return l.redis.status === 'ready' ? stopped : undefined;
          }),
        );
        await Promise.all(clients.map((c) => c.close()));
        for (const r of workerRedis) r.client.disconnect();
        redis.disconnect();
      })();
      return stopping;
    },
  };
}
