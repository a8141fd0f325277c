/**
 * Preloaded with `node --import <this file> service.ts`: starts OpenTelemetry tracing (sdk.ts)
 * before the service and flushes it on SIGTERM. A process entry hook, so like server.ts it reads
 * process.env directly; it has side effects on import, so nothing imports it.
 */
import { registerOptions, startTelemetry } from './sdk.ts';

/**
 * SIGTERM: flush alongside the service's own handler, never instead of it. If we are the only
 * listener, Node's default (exit) is gone because we listen, so we exit after flushing.
 */
function hookSignals(shutdown: () => Promise<void>): void {
  process.on('SIGTERM', () => {
    const othersListen = process.listenerCount('SIGTERM') > 1;
    void shutdown().then(() => {
      if (!othersListen) process.exit(143);
    });
  });
  process.once('beforeExit', () => void shutdown());
}

// Fails loud on bad config rather than silently tracing nothing.
const shutdown = await startTelemetry(registerOptions(process.env));
if (shutdown) hookSignals(shutdown);
