import { readFileSync } from 'node:fs';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { buildApp } from './app.ts';
import { CloudflareClient } from './cloudflare.ts';
import type { Config } from './config.ts';
import { EdgeDelivery } from './edge-delivery.ts';
import { createMetrics } from './metrics.ts';
import { type RestartWatch, watchRestarts } from './node-watch.ts';
import { NodeWorker } from './node-worker.ts';
import { KEYS, Queue } from './queue.ts';
import { resolveSiteSecrets } from './secrets.ts';
import { varnishIdentity } from './varnish-admin.ts';
import { VarnishClient } from './varnish-client.ts';

// ioredis 6 speaks RESP3 by default, where XREADGROUP answers a map (flattened by the legacy reply
// mapping into [stream, entries] instead of [[stream, entries]]). The queue parses RESP2 shapes.
const RESP2 = { protocol: 2 } as const;

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
  // an in-memory queue would turn a 202 into a promise we could not keep.
  const redis = new Redis(config.redisUrl, {
    ...RESP2,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 2_000,
    enableAutoPipelining: true,
    lazyConnect: true,
  });
  redis.on('error', (err) => logger.debug({ err: err.message }, 'redis (intake) error'));
  await redis.connect();
  const queue = new Queue(redis, config.nodes.length, config.jobTtlSeconds);
  for (const n of config.nodes) await queue.ensureGroup(KEYS.jobs, KEYS.group(n.name));
  await queue.ensureGroup(KEYS.edge, KEYS.edgeGroup);

  const metrics = createMetrics(
    queue,
    config.nodes.map((n) => n.name),
  );
  // Blocking reads hold their connection, so every worker has its own.
  const workerRedis: Redis[] = [];
  const dup = (name: string) => {
    const r = new Redis(config.redisUrl, { ...RESP2, maxRetriesPerRequest: null });
    r.on('error', (err) => logger.debug({ err: err.message, worker: name }, 'redis (worker) error'));
    workerRedis.push(r);
    return r;
  };
  const watches: RestartWatch[] = [];
  const clients: VarnishClient[] = [];
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
    return new NodeWorker({
      queue: new Queue(r, config.nodes.length, config.jobTtlSeconds),
      client,
      registry: () => registry,
      config,
      logger,
      metrics,
      ...(watch ? { watch } : {}),
    });
  });
  const edge = new EdgeDelivery({
    queue: new Queue(dup('edge'), config.nodes.length, config.jobTtlSeconds),
    registry: () => registry,
    config,
    logger,
    metrics,
    ...(config.cloudflare
      ? { cloudflare: new CloudflareClient(config.cloudflare, config.requestTimeoutMs) }
      : {}),
  });
  for (const w of workers) w.start();
  edge.start();

  const trimmer = setInterval(() => {
    Promise.all([queue.trim(KEYS.jobs), queue.trim(KEYS.edge)]).catch((err) =>
      logger.debug({ err: (err as Error).message }, 'trim failed'),
    );
  }, 10_000);
  trimmer.unref();

  const { app, drain } = buildApp({
    queue,
    registry: () => registry,
    secrets,
    metrics,
    logger,
    retryAfterSeconds: config.retryAfterSeconds,
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
        await Promise.all([...workers.map((w) => w.stop()), edge.stop()]);
        await Promise.all(clients.map((c) => c.close()));
        for (const r of workerRedis) r.disconnect();
        redis.disconnect();
      })();
      return stopping;
    },
  };
}
