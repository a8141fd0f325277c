import type { ManagedProcess, ProcessOptions } from './process/managed.ts';

/**
 * How a component plugs into the local farm (`npm start`). Each workspace may have
 * `src/farm.ts` exporting `farm: FarmComponent[]`; the farm runner (infra/local-farm) discovers
 * them, starts them by stage, prints the table of services, and stops them all on Ctrl-C or
 * `npm stop`.
 */

/** Named ports: `FARM_BASE_PORT` (default 18000) plus a fixed offset, so every component can find every other. */
export const FARM_PORT_OFFSETS = Object.freeze({
  origin: 0,
  'router-back': 10,
  'varnish-1': 21,
  'varnish-2': 22,
  'varnish-3': 23,
  'varnish-admin-1': 31,
  'varnish-admin-2': 32,
  'varnish-admin-3': 33,
  'router-front': 40,
  'router-front-metrics': 41,
  'router-back-metrics': 11,
  edge: 50,
  'edge-inspector': 51,
  redis: 60,
  purger: 70,
  'cloudflare-api-standin': 75,
  bridge: 80,
  wordpress: 90,
  'galera-1': 101,
  'galera-2': 102,
  'galera-3': 103,
  'galera-gcomm-1': 111,
  'galera-gcomm-2': 112,
  'galera-gcomm-3': 113,
  'galera-ist-1': 121,
  'galera-ist-2': 122,
  'galera-ist-3': 123,
  'galera-sst-1': 131,
  'galera-sst-2': 132,
  'galera-sst-3': 133,
  'health-1': 141,
  'health-2': 142,
  'health-3': 143,
  'proxysql-admin-standin': 150,
} as const);

export type FarmPortName = keyof typeof FARM_PORT_OFFSETS;

/** Secrets generated for one farm run, handed to processes through the environment only. */
export interface FarmSecrets {
  /** Edge → origin keys (`x-edge-auth`), current first. */
  edgeKeys: string[];
  /** Secret Varnish requires on BAN/PURGE (`x-purge-secret`). */
  varnishPurgeSecret: string;
  /** Bearer token the purger presents to the edge's purge endpoint. */
  edgePurgeToken: string;
  /** Token the edge presents to the telemetry bridge. */
  bridgeToken: string;
  /** Webhook secret per site id (the values of each site's `webhookSecretRef`). */
  webhookSecrets: Record<string, string>;
  /** Bearer token for the proxysql-health drain endpoint. */
  drainToken: string;
}

export interface FarmContext {
  /** Repository root. */
  root: string;
  /** Run folder (default `<root>/.farm`): logs, data, generated files. */
  runDir: string;
  /** The farm's registry: the source registry with every upstream pointed at the demo origin. */
  registryFile: string;
  /** The registry the farm was started from (default infra/registry/sites.yaml). */
  sourceRegistryFile: string;
  port(name: FarmPortName): number;
  secrets: FarmSecrets;
  /** Whether a component (by `FarmComponent.name`) takes part in this run. */
  has(component: string): boolean;
  /** Starts a process that the farm stops on teardown; `logFile` is relative to `runDir`. */
  start(opts: ProcessOptions): Promise<ManagedProcess>;
  /** Environment for child processes: this process's env plus FARM_* and the secrets' variables. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** One progress line on the console. */
  log(message: string): void;
  /** Command-line flags of `npm start` (e.g. `--galera-nodes=1`). */
  flags: Record<string, string | boolean>;
}

/** One row of the table `npm start` prints. */
export interface FarmService {
  name: string;
  url: string;
  note?: string;
}

export interface FarmComponent {
  /** Unique name, e.g. `origin-router-back`. */
  name: string;
  /** Start order, lower first: 10 data stores, 20 origin and back router, 30 Varnish, 40 front router, 50 edge, 60 purger / bridge / health checkers. */
  stage: number;
  /** Optional: skip this component unless it returns true (e.g. a flag). */
  enabled?(ctx: FarmContext): boolean;
  start(ctx: FarmContext): Promise<FarmService[]>;
}

/** Environment variable names under which the farm passes its secrets to child processes. */
export const FARM_SECRET_ENV = Object.freeze({
  edgeKeys: 'EDGE_AUTH_KEYS',
  varnishPurgeSecret: 'VARNISH_PURGE_SECRET',
  edgePurgeToken: 'EDGE_PURGE_TOKEN',
  bridgeToken: 'BRIDGE_TOKEN',
  drainToken: 'HEALTH_DRAIN_TOKEN',
});
