/**
 * The worker's configuration, read from its bindings (`c.env`) and validated once per isolate.
 * Messages name the variable. Secrets: EDGE_AUTH_KEY, EDGE_PURGE_TOKEN, BRIDGE_TOKEN.
 */
import { EDGE_KEY_MIN_LENGTH } from '@wpfarm/common/contracts/edge-auth';
import { EdgeError } from './errors.ts';

export interface EdgeConfig {
  /** Fetch this origin (plus path and query) instead of the request URL; local farm and tests. */
  originUrl: string | undefined;
  /** OTLP/HTTP endpoint of the telemetry bridge; no spans are exported when unset. */
  bridgeUrl: string | undefined;
  bridgeToken: string | undefined;
  /** The current edge → origin key (`x-edge-auth`). */
  edgeAuthKey: string;
  /** Bearer token of the purge endpoint; the endpoint refuses everything when unset. */
  purgeToken: string | undefined;
  originTimeoutMs: number;
  hostMapTtlMs: number;
  purgeStateTtlMs: number;
  sampleRate: number;
  uaBlocklist: string[];
}

/** The bindings the config reads (a subset of the generated Env, so tests can pass plain objects). */
export interface ConfigBindings {
  ORIGIN_URL?: string;
  BRIDGE_URL?: string;
  BRIDGE_TOKEN?: string;
  EDGE_AUTH_KEY?: string;
  EDGE_PURGE_TOKEN?: string;
  ORIGIN_TIMEOUT_MS?: string;
  HOST_MAP_TTL_SECONDS?: string;
  PURGE_STATE_TTL_SECONDS?: string;
  TRACE_SAMPLE_RATE?: string;
  UA_BLOCKLIST?: string;
}

const invalid = (name: string, message: string) => new EdgeError('CONFIG_INVALID', `${name} ${message}`);

function optionalUrl(name: string, raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw invalid(name, `must be an http(s) URL (got "${raw}")`);
  }
  return raw.replace(/\/+$/, '');
}

function number(name: string, raw: string | undefined, dflt: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw invalid(name, `must be a number from ${min} to ${max}`);
  return n;
}

/**
 * Validates the bindings.
 * @throws EdgeError CONFIG_INVALID naming the variable.
 */
export function readConfig(env: ConfigBindings): EdgeConfig {
  const key = env.EDGE_AUTH_KEY ?? '';
  if (key.length < EDGE_KEY_MIN_LENGTH)
    throw invalid('EDGE_AUTH_KEY', `must be set to a key of at least ${EDGE_KEY_MIN_LENGTH} characters`);
  const purgeToken = env.EDGE_PURGE_TOKEN || undefined;
  if (purgeToken && purgeToken.length < EDGE_KEY_MIN_LENGTH)
    throw invalid('EDGE_PURGE_TOKEN', `must be at least ${EDGE_KEY_MIN_LENGTH} characters when set`);
  return {
    originUrl: optionalUrl('ORIGIN_URL', env.ORIGIN_URL),
    bridgeUrl: optionalUrl('BRIDGE_URL', env.BRIDGE_URL),
    bridgeToken: env.BRIDGE_TOKEN || undefined,
    edgeAuthKey: key,
    purgeToken,
    originTimeoutMs: number('ORIGIN_TIMEOUT_MS', env.ORIGIN_TIMEOUT_MS, 10_000, 100, 120_000),
    hostMapTtlMs: number('HOST_MAP_TTL_SECONDS', env.HOST_MAP_TTL_SECONDS, 30, 0, 3600) * 1000,
    purgeStateTtlMs: number('PURGE_STATE_TTL_SECONDS', env.PURGE_STATE_TTL_SECONDS, 5, 0, 600) * 1000,
    sampleRate: number('TRACE_SAMPLE_RATE', env.TRACE_SAMPLE_RATE, 0.01, 0, 1),
    uaBlocklist: (env.UA_BLOCKLIST ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean)
      .slice(0, 200),
  };
}

const memo = new WeakMap<object, EdgeConfig>();

/** The config for these bindings, validated on first use in the isolate. */
export function configFor(env: ConfigBindings): EdgeConfig {
  let cfg = memo.get(env);
  if (!cfg) {
    cfg = readConfig(env);
    memo.set(env, cfg);
  }
  return cfg;
}
