import { join } from 'node:path';
import type { FarmComponent, FarmPortName } from '@wpfarm/common/farm-contract';
import { startVarnish } from '@wpfarm/common/peers/varnish';

/**
 * The infra part of the local farm: the demo origin (a stand-in for the sites' WordPress
 * services) and the 3-node Varnish tier. Varnish's backend is the origin-router's back role when
 * that component takes part, else the demo origin directly.
 */
export const farm: FarmComponent[] = [
  {
    name: 'demo-origin',
    stage: 20,
    async start(ctx) {
      const port = ctx.port('origin');
      await ctx.start({
        name: 'demo-origin',
        command: process.execPath,
        args: [join(ctx.root, 'common/src/peers/demo-origin-cli.ts'), ctx.registryFile, String(port)],
        env: ctx.env(),
        logFile: 'demo-origin.log',
        ready: { http: `http://127.0.0.1:${port}/__origin/health`, status: 200 },
      });
      return [
        {
          name: 'demo-origin',
          url: `http://127.0.0.1:${port}`,
          note: 'WordPress stand-in for every site; /__origin/stats',
        },
      ];
    },
  },
  {
    name: 'varnish',
    stage: 30,
    async start(ctx) {
      const viaRouter = ctx.has('origin-router-back');
      const backendPort = viaRouter ? ctx.port('router-back') : ctx.port('origin');
      const services = [];
      for (const n of [1, 2, 3] as const) {
        const v = await startVarnish({
          name: `varnish-${n}`,
          dir: join(ctx.runDir, `varnish-${n}`),
          port: ctx.port(`varnish-${n}` as FarmPortName),
          adminPort: ctx.port(`varnish-admin-${n}` as FarmPortName),
          backend: { host: '127.0.0.1', port: backendPort },
          purgeSecret: ctx.secrets.varnishPurgeSecret,
          storage: 'malloc,128m',
        });
        services.push({
          name: `varnish-${n}`,
          url: `http://127.0.0.1:${v.port}`,
          note: `admin 127.0.0.1:${v.adminPort}; backend ${viaRouter ? 'router-back' : 'demo-origin'}`,
        });
      }
      return services;
    },
  },
];
