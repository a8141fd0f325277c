import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FarmComponent, FarmContext, FarmPortName } from '@wpfarm/common/farm-contract';
import { type GaleraPorts, startGalera, startPlainMariadb } from '@wpfarm/common/peers/galera';
import { installStandin, STANDIN_STATS_USER } from './standins/proxysql-admin-standin.ts';

/**
 * proxysql-health in the local farm: a real MariaDB Galera cluster (stage 10; 3 nodes, or 1 with
 * `--galera-nodes=1`), the proxysql-admin-standin (ProxySQL cannot be installed here), and one
 * checker per node (stage 60). Data lives in `<runDir>/galera` and is recreated on each start.
 */
const SERVER = 'proxysql-health/src/server.ts';

/** Password of the checker's MariaDB user for this farm run: generated, passed by env only. */
const healthPassword = randomBytes(18).toString('hex');

const nodeCount = (ctx: FarmContext) => (String(ctx.flags['galera-nodes'] ?? '3') === '1' ? 1 : 3);
const indexes = (ctx: FarmContext) => ([1, 2, 3] as const).slice(0, nodeCount(ctx));

export const farm: FarmComponent[] = [
  {
    name: 'galera',
    stage: 10,
    async start(ctx) {
      const dir = join(ctx.runDir, 'galera');
      rmSync(dir, { recursive: true, force: true }); // a fresh cluster: no stale grastate to bootstrap from
      const ports: GaleraPorts[] = indexes(ctx).map((n) => ({
        port: ctx.port(`galera-${n}` as FarmPortName),
        gcomm: ctx.port(`galera-gcomm-${n}` as FarmPortName),
        ist: ctx.port(`galera-ist-${n}` as FarmPortName),
        sst: ctx.port(`galera-sst-${n}` as FarmPortName),
      }));
      ctx.log(`galera: starting ${ports.length} node(s) (a 3-node cluster takes ~30 s)`);
      await startGalera({
        dir,
        nodes: ports.length,
        ports,
        start: (p) => ctx.start(p),
        logFile: (i) => `galera-${i + 1}.log`,
        healthPassword,
      });
      const standinPort = ctx.port('proxysql-admin-standin');
      const standin = await startPlainMariadb({
        dir: join(dir, 'proxysql-admin-standin'),
        port: standinPort,
        name: 'proxysql-admin-standin',
        start: (p) => ctx.start(p),
        logFile: 'proxysql-admin-standin.log',
      });
      await installStandin(
        standin.query,
        ports.map((p) => ({ host: '127.0.0.1', port: p.port })),
      );
      return [
        ...ports.map((p, i) => ({
          name: `galera-${i + 1}`,
          url: `mysql://127.0.0.1:${p.port}`,
          note: `socket ${join(dir, `node-${i + 1}`, 'mysqld.sock')} (root, no password)`,
        })),
        {
          name: 'proxysql-admin-standin',
          url: `mysql://127.0.0.1:${standinPort}`,
          note: 'stand-in: ProxySQL 2.x admin tables in MariaDB (not ProxySQL)',
        },
      ];
    },
  },
  {
    name: 'proxysql-health',
    stage: 60,
    enabled: (ctx) => ctx.has('galera'),
    async start(ctx) {
      const rows = [];
      for (const n of indexes(ctx)) {
        const port = ctx.port(`health-${n}` as FarmPortName);
        await ctx.start({
          name: `proxysql-health-${n}`,
          command: process.execPath,
          args: [join(ctx.root, SERVER)],
          env: ctx.env({
            HOST: '127.0.0.1',
            PORT: String(port),
            MYSQL_HOST: '127.0.0.1',
            MYSQL_PORT: String(ctx.port(`galera-${n}` as FarmPortName)),
            MYSQL_USER: 'health',
            MYSQL_PASSWORD: healthPassword,
            PROXYSQL_ADMIN_HOST: '127.0.0.1',
            PROXYSQL_ADMIN_PORT: String(ctx.port('proxysql-admin-standin')),
            PROXYSQL_ADMIN_USER: STANDIN_STATS_USER.user,
            PROXYSQL_ADMIN_PASSWORD: STANDIN_STATS_USER.password,
            HEALTH_EXPECTED_CLUSTER_SIZE: String(nodeCount(ctx)),
            HEALTH_DRAIN_FILE: join(ctx.runDir, `drain-health-${n}`),
            // HEALTH_DRAIN_TOKEN comes from ctx.env (the farm's generated secrets).
          }),
          logFile: `proxysql-health-${n}.log`,
          ready: { http: `http://127.0.0.1:${port}/health`, status: 200 },
        });
        const base = `http://127.0.0.1:${port}`;
        rows.push(
          {
            name: `proxysql-health-${n}`,
            url: `${base}/health`,
            note: `galera-${n}; also /health/writer, /health/reader`,
          },
          {
            name: `proxysql-health-${n} status`,
            url: `${base}/status`,
            note: 'bearer HEALTH_DRAIN_TOKEN for /status and POST /drain; open: /live, /metrics',
          },
        );
      }
      return rows;
    },
  },
];
