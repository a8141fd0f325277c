/**
 * `node origin-router/src/server.ts`: the only reader of process.env. Validates the config,
 * loads the registry, builds the app, listens, and handles signals: SIGHUP reloads the
 * registry, SIGTERM/SIGINT drain (/ping 503 first, then close, then exit).
 */
import { exitAfterWarmUp } from '@wpfarm/common/process/warm-up';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { formatIssue, RegistryError } from '@wpfarm/common/registry/schema';
import pino from 'pino';
import { buildApp } from './app.ts';
import { type Config, loadConfig } from './config.ts';
import { watchRegistry } from './registry-watch.ts';

exitAfterWarmUp(); // the image's compile-cache warm-up: every module is loaded by now

const logger = pino({ level: process.env.LOG_LEVEL || 'info', base: { service: 'origin-router' } });

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(2);
}
const log = logger.child({ role: config.role });

let registry: Awaited<ReturnType<typeof loadRegistry>>;
try {
  registry = await loadRegistry(config.registryFile);
} catch (err) {
  if (err instanceof RegistryError)
    for (const i of err.issues) log.fatal({ issue: formatIssue(i) }, 'invalid registry');
  else log.fatal({ err }, 'cannot load registry');
  process.exit(2);
}

const app = buildApp({ config, registry, logger: log });
await new Promise<void>((resolve) => app.server.listen(config.port, config.host, resolve));
await new Promise<void>((resolve) =>
  app.metricsServer.listen(config.metricsPort, config.metricsHost, resolve),
);
log.info(
  {
    port: config.port,
    metricsPort: config.metricsPort,
    sites: registry.sites.length,
    nodes: config.front.nodes.map((n) => n.id),
  },
  'origin-router listening',
);

const stopWatching = watchRegistry(config.registryFile, config.registryDebounceMs, () => void app.reload());
process.on('SIGHUP', () => void app.reload());

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  stopWatching();
  await app.drain();
  await app.close();
  log.info('bye');
  process.exit(0);
};
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
