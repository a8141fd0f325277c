/**
 * The cache-purger in the local farm: its Redis (stage 10, data in the run folder) and the purger
 * (stage 60) wired to varnish-1..3 (purge + admin ports, for restart detection), the edge worker
 * when it runs, and the Cloudflare API stand-in (unless FARM_CLOUDFLARE=0). Secrets reach
 * the processes only through ctx.env(): VARNISH_PURGE_SECRET, EDGE_PURGE_TOKEN and one variable
 * per site named by its webhookSecretRef.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FarmComponent, FarmPortName } from '@wpfarm/common/farm-contract';
import { redisArgs } from '@wpfarm/common/peers/redis';

const CF_TOKEN = randomBytes(18).toString('base64url');

export const farm: FarmComponent[] = [
  {
    name: 'purger-redis',
    stage: 10,
    async start(ctx) {
      const port = ctx.port('redis');
      const dir = join(ctx.runDir, 'purger-redis');
      mkdirSync(dir, { recursive: true });
      // Same settings as common's startRedis (AOF, fsync every second), started through ctx.start
      // so the farm stops it.
      await ctx.start({
        name: 'purger-redis',
        command: 'redis-server',
        args: redisArgs(port, dir),
        logFile: 'purger-redis.log',
        ready: { tcp: port },
      });
      return [
        { name: 'purger-redis', url: `redis://127.0.0.1:${port}`, note: 'the purge queue (Redis Streams)' },
      ];
    },
  },
  {
    name: 'cloudflare-api-standin',
    stage: 55,
    // On by default so the farm shows the whole purge path; FARM_CLOUDFLARE=0 leaves it out.
    enabled: (ctx) => ctx.env().FARM_CLOUDFLARE !== '0',
    async start(ctx) {
      const port = ctx.port('cloudflare-api-standin');
      await ctx.start({
        name: 'cloudflare-api-standin',
        command: process.execPath,
        args: [join(ctx.root, 'cache-purger/src/standins/cloudflare-api-standin-cli.ts')],
        env: ctx.env({
          CF_STANDIN_PORT: String(port),
          CLOUDFLARE_API_TOKEN: CF_TOKEN,
          CLOUDFLARE_PLAN: 'free',
        }),
        logFile: 'cloudflare-api-standin.log',
        ready: { tcp: port },
      });
      return [
        {
          name: 'cloudflare-api-standin',
          url: `http://127.0.0.1:${port}/client/v4`,
          note: 'STAND-IN for Cloudflare purge API; /__standin/calls',
        },
      ];
    },
  },
  {
    name: 'cache-purger',
    stage: 60,
    async start(ctx) {
      const port = ctx.port('purger');
      const nodes = [1, 2, 3].map(
        (n) => `varnish-${n}=http://127.0.0.1:${ctx.port(`varnish-${n}` as FarmPortName)}`,
      );
      const admin = [1, 2, 3].map(
        (n) =>
          `varnish-${n}=127.0.0.1:${ctx.port(`varnish-admin-${n}` as FarmPortName)}@${join(ctx.runDir, `varnish-${n}`, 'secret')}`,
      );
      const extra: Record<string, string> = {
        PURGER_HOST: '127.0.0.1',
        PURGER_PORT: String(port),
        PURGER_CONSUMER: 'farm-purger',
        REDIS_URL: `redis://127.0.0.1:${ctx.port('redis')}`,
        REGISTRY_FILE: ctx.registryFile,
        VARNISH_NODES: nodes.join(','),
        VARNISH_ADMIN: admin.join(','),
      };
      if (ctx.has('edge-worker')) extra.EDGE_URL = `http://127.0.0.1:${ctx.port('edge')}`;
      if (ctx.has('cloudflare-api-standin')) {
        Object.assign(extra, {
          CLOUDFLARE_API_URL: `http://127.0.0.1:${ctx.port('cloudflare-api-standin')}/client/v4`,
          CLOUDFLARE_API_TOKEN: CF_TOKEN,
          CLOUDFLARE_PLAN: 'free',
          CLOUDFLARE_ZONES: '*=farmzone',
        });
      }
      await ctx.start({
        name: 'cache-purger',
        command: process.execPath,
        args: [join(ctx.root, 'cache-purger/src/server.ts')],
        cwd: join(ctx.root, 'cache-purger'),
        env: ctx.env(extra),
        logFile: 'cache-purger.log',
        ready: { http: `http://127.0.0.1:${port}/healthz`, status: 200 },
      });
      return [
        {
          name: 'cache-purger',
          url: `http://127.0.0.1:${port}`,
          note: `POST /v1/purge (signed), GET /v1/jobs/:id, /metrics; edge ${extra.EDGE_URL ? 'on' : 'off'}`,
        },
      ];
    },
  },
];
