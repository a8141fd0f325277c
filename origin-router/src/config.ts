/**
 * The router's configuration: read from an environment-like record once, validated, with
 * messages naming the variable. server.ts is the only caller with the real process.env.
 */

import type { BlockList } from 'node:net';
import { type Env, envReader } from '@wpfarm/common/config/env';
import { parseEdgeKeys } from '@wpfarm/common/contracts/edge-auth';
import { CONNECTION_LIMIT_DEFAULTS } from '@wpfarm/common/http-limits';
import { parseCidrs } from './edge-auth.ts';

/** A cache node the front router shards over. */
export interface VarnishNode {
  id: string;
  host: string;
  port: number;
  weight: number;
}

export interface Config {
  role: 'front' | 'back';
  host: string;
  port: number;
  metricsHost: string;
  metricsPort: number;
  registryFile: string;
  /** Debounce of registry file changes before a reload. */
  registryDebounceMs: number;
  logLevel: string;
  accessLog: boolean;
  limits: {
    maxHeaderBytes: number;
    maxUrlBytes: number;
    maxBodyBytes: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    /** Client connections open at most; further ones are closed on accept. */
    maxConnections: number;
  };
  drain: { delayMs: number; timeoutMs: number };
  upstream: {
    connectTimeoutMs: number;
    headersTimeoutMs: number;
    bodyTimeoutMs: number;
    /** Keep-alive connections per Varnish node (front) or per WordPress upstream (back). */
    connections: number;
  };
  trustedHops: BlockList | undefined;
  front: {
    nodes: VarnishNode[];
    edgeKeys: string[];
    clientAllowlist: BlockList | undefined;
    probe: { intervalMs: number; timeoutMs: number; path: string; fall: number; rise: number };
    eject: { after: number; ms: number };
    /** 0 = off; else a node takes at most factor × the mean in-flight load before spilling over. */
    boundedLoadFactor: number;
  };
  back: {
    breaker: { failures: number; openMs: number };
    maintenanceRetryAfterS: number;
  };
}

/**
 * Parses `VARNISH_NODES`: `id=host:port[*weight]`, comma-separated.
 * @example parseNodes('varnish-1=127.0.0.1:6081,varnish-2=127.0.0.1:6082*2')
 */
export function parseNodes(raw: string | undefined, field = 'VARNISH_NODES'): VarnishNode[] {
  const items = (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error(`${field} is required: id=host:port[*weight], comma-separated`);
  const seen = new Set<string>();
  return items.map((item) => {
    const m =
      /^([A-Za-z0-9_.-]{1,64})=([A-Za-z0-9_.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})(?:\*(\d+(?:\.\d+)?))?$/.exec(
        item,
      );
    if (!m) throw new Error(`${field}: "${item}" is not id=host:port[*weight]`);
    const [, id = '', host = '', port = '', weight] = m;
    if (seen.has(id)) throw new Error(`${field}: node id "${id}" appears twice`);
    seen.add(id);
    const p = Number(port);
    if (p < 1 || p > 65535) throw new Error(`${field}: "${item}" has an invalid port`);
    const w = weight === undefined ? 1 : Number(weight);
    if (!(w > 0 && w <= 100)) throw new Error(`${field}: "${item}" weight must be in (0, 100]`);
    return { id, host: host.replace(/^\[|\]$/g, ''), port: p, weight: w };
  });
}

/**
 * Validates the environment into a Config.
 * @throws Error naming the variable and what is wrong with its value.
 */
export function loadConfig(env: Env): Config {
  const role = env.ROUTER_ROLE;
  if (role !== 'front' && role !== 'back')
    throw new Error(`ROUTER_ROLE: "${role ?? ''}" must be "front" or "back"`);
  const registryFile = env.REGISTRY_FILE;
  if (!registryFile) throw new Error('REGISTRY_FILE is required: the site registry (YAML or JSON)');
  const front = role === 'front';
  const r = envReader(env);
  const config: Config = {
    role,
    host: env.HOST || '0.0.0.0',
    port: r.int('PORT', 8080, 0, 65535),
    metricsHost: env.METRICS_HOST || '0.0.0.0',
    metricsPort: r.int('METRICS_PORT', 9464, 0, 65535),
    registryFile,
    registryDebounceMs: r.int('REGISTRY_DEBOUNCE_MS', 200, 0, 60_000),
    logLevel: env.LOG_LEVEL || 'info',
    accessLog: r.bool('ACCESS_LOG', false),
    limits: {
      maxHeaderBytes: r.int('MAX_HEADER_BYTES', 16_384, 1024, 1_048_576),
      maxUrlBytes: r.int('MAX_URL_BYTES', 8192, 256, 65_536),
      maxBodyBytes: r.int('MAX_BODY_BYTES', 64 * 1024 * 1024, 0, 2 ** 40),
      headersTimeoutMs: r.int('HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      requestTimeoutMs: r.int('REQUEST_TIMEOUT_MS', 120_000, 0, 3_600_000),
      keepAliveTimeoutMs: r.int('KEEPALIVE_TIMEOUT_MS', 65_000, 100, 3_600_000),
      maxConnections: r.int('MAX_CONNECTIONS', CONNECTION_LIMIT_DEFAULTS.maxConnections, 1, 1_000_000),
    },
    drain: {
      delayMs: r.int('DRAIN_DELAY_MS', 10_000, 0, 600_000),
      timeoutMs: r.int('DRAIN_TIMEOUT_MS', 30_000, 0, 600_000),
    },
    upstream: {
      connectTimeoutMs: r.int('UPSTREAM_CONNECT_TIMEOUT_MS', front ? 1000 : 3000, 10, 600_000),
      headersTimeoutMs: r.int('UPSTREAM_HEADERS_TIMEOUT_MS', 60_000, 10, 3_600_000),
      bodyTimeoutMs: r.int('UPSTREAM_BODY_TIMEOUT_MS', 60_000, 10, 3_600_000),
      connections: r.int('UPSTREAM_CONNECTIONS', 256, 1, 65_536),
    },
    trustedHops: parseCidrs(env.TRUSTED_HOPS, 'TRUSTED_HOPS'),
    front: {
      nodes: front ? parseNodes(env.VARNISH_NODES) : [],
      edgeKeys: front ? parseEdgeKeys(env.EDGE_AUTH_KEYS) : [],
      clientAllowlist: parseCidrs(env.CLIENT_ALLOWLIST, 'CLIENT_ALLOWLIST'),
      probe: {
        intervalMs: r.int('PROBE_INTERVAL_MS', 2000, 50, 600_000),
        timeoutMs: r.int('PROBE_TIMEOUT_MS', 1000, 10, 600_000),
        path: env.PROBE_PATH || '/.varnish-health',
        fall: r.int('PROBE_FALL', 2, 1, 100),
        rise: r.int('PROBE_RISE', 2, 1, 100),
      },
      eject: {
        after: r.int('EJECT_AFTER_FAILURES', 3, 1, 1000),
        ms: r.int('EJECT_MS', 10_000, 10, 3_600_000),
      },
      boundedLoadFactor: r.num('BOUNDED_LOAD_FACTOR', 0, 0, 100),
    },
    back: {
      breaker: {
        failures: r.int('BREAKER_FAILURES', 5, 1, 1000),
        openMs: r.int('BREAKER_OPEN_MS', 10_000, 10, 3_600_000),
      },
      maintenanceRetryAfterS: r.int('MAINTENANCE_RETRY_AFTER_S', 300, 1, 86_400),
    },
  };
  r.done();
  return config;
}
