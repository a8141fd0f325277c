import { exitAfterWarmUp } from '@wpfarm/common/process/warm-up';
import pino from 'pino';
import { ConfigError, loadConfig } from './config.ts';
import { startService } from './service.ts';

/**
 * The cache-purger process: the only reader of process.env. Validates config, starts the
 * service, and stops it gracefully on SIGTERM/SIGINT (intake closes first, in-flight deliveries
 * finish and are acknowledged, then Redis is closed) within SHUTDOWN_GRACE_MS.
 */
exitAfterWarmUp(); // the image's compile-cache warm-up: every module is loaded by now

const logger = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'cache-purger' } });

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    logger.fatal({ problems: err.problems }, err.message);
    process.exit(2);
  }
  throw err;
}

const service = await startService(config, process.env, logger).catch((err) => {
  logger.fatal({ err }, 'cache-purger failed to start');
  process.exit(1);
});

let signalled = false;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal: sig }, 'stopping: intake closed, finishing deliveries');
    const force = setTimeout(() => {
      logger.error('graceful stop took too long; exiting (unacknowledged entries stay pending)');
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    service.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  });
}
