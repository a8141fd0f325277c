/**
 * Telemetry in the local farm. Every Node process the farm starts preloads the SDK
 * (`--import telemetry/src/register.ts`, see `farmTelemetryEnv`), and the bridge runs on the
 * `bridge` port for the edge worker. With OTEL_EXPORTER_OTLP_ENDPOINT set in `npm start`'s
 * environment, everything goes to that collector over gRPC; without it, every span (the edge's
 * through the bridge, the services' directly) is one JSON line in `<run dir>/traces.jsonl`.
 * FARM_TELEMETRY=0 turns both off.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { FarmComponent } from '@wpfarm/common/farm-contract';

const off = (env: NodeJS.ProcessEnv) => env.FARM_TELEMETRY === '0';

/** Environment that makes a farm child process preload the telemetry SDK. */
export function farmTelemetryEnv(
  root: string,
  runDir: string,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  if (off(env)) return {};
  const preload = `--import=${pathToFileURL(join(root, 'telemetry/src/register.ts')).href}`;
  return {
    NODE_OPTIONS: `${env.NODE_OPTIONS ?? ''} ${preload}`.trim(),
    ...(env.OTEL_EXPORTER_OTLP_ENDPOINT ? {} : { TELEMETRY_FILE: join(runDir, 'traces.jsonl') }),
    DEPLOYMENT_ENVIRONMENT: env.DEPLOYMENT_ENVIRONMENT || 'local-farm',
  };
}

export const farm: FarmComponent[] = [
  {
    name: 'telemetry-bridge',
    // Before the edge (50), so its first spans find the bridge listening.
    stage: 45,
    enabled: (ctx) => !off(ctx.env()),
    async start(ctx) {
      const port = ctx.port('bridge');
      await ctx.start({
        name: 'telemetry-bridge',
        command: process.execPath,
        args: [join(ctx.root, 'telemetry/src/server.ts')],
        env: ctx.env({
          BRIDGE_HOST: '127.0.0.1',
          BRIDGE_PORT: String(port),
          REGISTRY_FILE: ctx.registryFile,
          BRIDGE_SHUTDOWN_MS: '3000',
          // BRIDGE_TOKEN, and OTEL_EXPORTER_OTLP_ENDPOINT or TELEMETRY_FILE, come from ctx.env.
        }),
        logFile: 'telemetry-bridge.log',
        ready: { http: `http://127.0.0.1:${port}/healthz`, status: 200 },
      });
      const sink = ctx.env().OTEL_EXPORTER_OTLP_ENDPOINT || join(ctx.runDir, 'traces.jsonl');
      return [
        { name: 'telemetry-bridge', url: `http://127.0.0.1:${port}/v1/traces`, note: `edge spans → ${sink}` },
        { name: 'telemetry-bridge metrics', url: `http://127.0.0.1:${port}/metrics` },
      ];
    },
  },
];
