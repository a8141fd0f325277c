/**
 * The edge worker in the local farm: workerd (through serve.ts) on the `edge` port, in front of
 * the origin-router's front role when it runs, else the first Varnish. The host map is seeded into
 * the farm's local KV from the farm registry; secrets reach the process through its environment
 * only (ctx.env carries EDGE_AUTH_KEYS, EDGE_PURGE_TOKEN, BRIDGE_TOKEN).
 */
import { join } from 'node:path';
import type { FarmComponent } from '@wpfarm/common/farm-contract';

export const farm: FarmComponent[] = [
  {
    name: 'edge-worker',
    stage: 50,
    async start(ctx) {
      const port = ctx.port('edge');
      const viaRouter = ctx.has('origin-router-front');
      const originPort = viaRouter ? ctx.port('router-front') : ctx.port('varnish-1');
      const bridge = ctx.has('telemetry-bridge') ? `http://127.0.0.1:${ctx.port('bridge')}/v1/traces` : '';
      await ctx.start({
        name: 'edge-worker',
        command: process.execPath,
        args: [join(ctx.root, 'edge-worker/src/serve.ts')],
        cwd: join(ctx.root, 'edge-worker'),
        env: ctx.env({
          EDGE_PORT: String(port),
          EDGE_STATE_DIR: join(ctx.runDir, 'edge-worker'),
          EDGE_REGISTRY: ctx.registryFile,
          ORIGIN_URL: `http://127.0.0.1:${originPort}`,
          BRIDGE_URL: bridge,
          TRACE_SAMPLE_RATE: '1',
        }),
        logFile: 'edge-worker.log',
        ready: { http: `http://127.0.0.1:${port}/__edge/health`, status: 200 },
        readyTimeoutMs: 120_000,
      });
      return [
        {
          name: 'edge-worker',
          url: `http://127.0.0.1:${port}`,
          note: `workerd; origin ${viaRouter ? 'router-front' : 'varnish-1'}; purge POST /__edge/purge`,
        },
      ];
    },
  },
];
