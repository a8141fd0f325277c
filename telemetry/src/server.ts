/**
 * `node telemetry/src/server.ts`: the telemetry bridge (OTLP/HTTP from the edge → OTLP/gRPC to
 * the collector). The only reader of process.env: validates the config, loads the registry for
 * `site.id` when REGISTRY_FILE is set, listens, and on SIGTERM/SIGINT refuses new spans and
 * delivers what is queued within BRIDGE_SHUTDOWN_MS.
 */
import { exitAfterWarmUp } from '@wpfarm/common/process/warm-up';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { lookupHost } from '@wpfarm/common/registry/schema';
import pino from 'pino';
import { createBridge } from './bridge/app.ts';
import { type BridgeConfig, loadBridgeConfig } from './bridge/config.ts';

exitAfterWarmUp(); // the image's compile-cache warm-up: every module is loaded by now

const logger = pino({
  level: process.env.LOG_LEVEL || 'info',
  base: { service: 'telemetry-bridge' },
  redact: ['token', '*.token', 'config.token'],
});

let config: BridgeConfig;
let siteOf: ((host: string) => string | undefined) | undefined;
try {
  config = loadBridgeConfig(process.env);
  if (config.registryFile) {
    const registry = await loadRegistry(config.registryFile);
    siteOf = (host) => lookupHost(registry, host)?.site.id;
  }
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(2);
}

const bridge = createBridge({ config, logger, siteOf });
const port = await bridge.listen();
logger.info(
  {
    host: config.host,
    port,
    sink: config.sink.kind === 'grpc' ? config.sink.endpoint : config.sink.file,
    queue: config.queue,
    batchSpans: config.pipeline.batchSpans,
    redactQuery: config.redactQuery,
    registry: config.registryFile ?? 'off',
  },
  'telemetry bridge listening',
);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, queuedSpans: bridge.queue.spans }, 'stopping: delivering what is queued');
  await bridge.close();
  logger.info('stopped');
  process.exitCode = 0;
};
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
