/**
 * `node proxysql-health/src/server.ts`: the only reader of process.env. Validates the config,
 * builds the app, starts the background checker, listens, and stops on SIGTERM/SIGINT.
 * Probes answer 503 until the first evaluation has run.
 */
import { exitAfterWarmUp } from '@wpfarm/common/process/warm-up';
import pino from 'pino';
import { buildApp } from './app.ts';
import { type Config, loadConfig } from './config.ts';

exitAfterWarmUp(); // the image's compile-cache warm-up: every module is loaded by now

const logger = pino({
  level: process.env.LOG_LEVEL || 'info',
  base: { service: 'proxysql-health' },
  // Belt and braces: nothing logs a config, but if it ever does, secrets stay out.
  redact: [
    '*.password',
    '*.drainToken',
    '*.statusToken',
    'config.mysql.password',
    'config.proxysql.password',
  ],
});

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  logger.fatal((err as Error).message);
  process.exit(2);
}

const app = buildApp({ config, logger });
app.checker.start();
await new Promise<void>((resolve) => app.server.listen(config.port, config.host, resolve));
logger.info(
  {
    port: config.port,
    mysql: config.mysql.socketPath ?? `${config.mysql.host}:${config.mysql.port}`,
    proxysql: config.proxysql ? `${config.proxysql.host}:${config.proxysql.port}` : 'off',
    intervalMs: config.intervalMs,
    queryTimeoutMs: config.queryTimeoutMs,
    drainApi: Boolean(config.drainToken),
    statusApi: Boolean(config.statusToken || config.drainToken),
    maxConnections: config.connections.maxConnections,
    drainFile: config.drainFile,
  },
  'proxysql-health listening',
);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'stopping');
  await app.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
