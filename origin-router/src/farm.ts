import { join } from 'node:path';
import type { FarmComponent } from '@wpfarm/common/farm-contract';
import { routerProcessEnv } from './runtime.ts';

/**
 * The origin-router in the local farm: the back role (Varnish's backend, stage 20) and the
 * front role (in front of the 3 Varnish nodes, stage 40). infra's Varnish component points its
 * backend at `router-back` when `origin-router-back` takes part.
 */
const SERVER = 'origin-router/src/server.ts';

export const farm: FarmComponent[] = [
  {
    name: 'origin-router-back',
    stage: 20,
    async start(ctx) {
      const port = ctx.port('router-back');
      const metricsPort = ctx.port('router-back-metrics');
      await ctx.start({
        name: 'origin-router-back',
        command: process.execPath,
        args: [join(ctx.root, SERVER)],
        env: routerProcessEnv(
          ctx.env({
            ROUTER_ROLE: 'back',
            HOST: '127.0.0.1',
            PORT: String(port),
            METRICS_HOST: '127.0.0.1',
            METRICS_PORT: String(metricsPort),
            REGISTRY_FILE: ctx.registryFile,
            TRUSTED_HOPS: '127.0.0.1/32,::1',
            DRAIN_DELAY_MS: '500',
          }),
        ),
        logFile: 'origin-router-back.log',
        ready: { http: `http://127.0.0.1:${port}/ping`, status: 200 },
      });
      return [
        {
          name: 'origin-router-back',
          url: `http://127.0.0.1:${port}`,
          note: 'Varnish backend: host → site upstream',
        },
        { name: 'origin-router-back metrics', url: `http://127.0.0.1:${metricsPort}/metrics` },
      ];
    },
  },
  {
    name: 'origin-router-front',
    stage: 40,
    async start(ctx) {
      const port = ctx.port('router-front');
      const metricsPort = ctx.port('router-front-metrics');
      const nodes = ([1, 2, 3] as const)
        .map((n) => `varnish-${n}=127.0.0.1:${ctx.port(`varnish-${n}`)}`)
        .join(',');
      await ctx.start({
        name: 'origin-router-front',
        command: process.execPath,
        args: [join(ctx.root, SERVER)],
        env: routerProcessEnv(
          ctx.env({
            ROUTER_ROLE: 'front',
            HOST: '127.0.0.1',
            PORT: String(port),
            METRICS_HOST: '127.0.0.1',
            METRICS_PORT: String(metricsPort),
            REGISTRY_FILE: ctx.registryFile,
            VARNISH_NODES: nodes,
            TRUSTED_HOPS: '127.0.0.1/32,::1',
            DRAIN_DELAY_MS: '500',
            // EDGE_AUTH_KEYS comes from ctx.env (the farm's generated secrets).
          }),
        ),
        logFile: 'origin-router-front.log',
        ready: { http: `http://127.0.0.1:${port}/ping`, status: 200 },
      });
      return [
        {
          name: 'origin-router-front',
          url: `http://127.0.0.1:${port}`,
          note: 'needs x-edge-auth; x-edge-host picks the site',
        },
        { name: 'origin-router-front metrics', url: `http://127.0.0.1:${metricsPort}/metrics` },
      ];
    },
  },
];
