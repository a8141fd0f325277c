/**
 * The checker's configuration: read from an environment-like record once, validated, with
 * messages naming the variable. server.ts is the only caller with the real process.env.
 * Passwords come from `*_PASSWORD` or `*_PASSWORD_FILE`, never argv; they are never logged.
 */
import { readFileSync } from 'node:fs';
import type { Policy } from './verdict.ts';

/** Where and how to reach a MySQL-protocol server. */
export interface DbTarget {
  host: string;
  port: number;
  /** Unix socket; when set, host and port are not used. */
  socketPath: string | undefined;
  user: string;
  password: string;
}

export interface Config {
  host: string;
  port: number;
  logLevel: string;
  mysql: DbTarget;
  /** ProxySQL's admin interface; undefined = not checked (a node without ProxySQL). */
  proxysql: DbTarget | undefined;
  /** Milliseconds between evaluations. */
  intervalMs: number;
  /** Per-query (and connect) timeout; less than the interval. */
  queryTimeoutMs: number;
  /** A fresh-connection canary every this many ms (0 = off). */
  canaryIntervalMs: number;
  policy: Policy;
  /** A snapshot older than this many intervals answers 503. */
  staleIntervals: number;
  drainFile: string | undefined;
  /** Bearer token for POST/DELETE /drain; undefined = the endpoint is off. */
  drainToken: string | undefined;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`${name}: "${raw}" must be a whole number between ${min} and ${max}`);
  return n;
}

function num(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new Error(`${name}: "${raw}" must be a number between ${min} and ${max}`);
  return n;
}

/** A secret from `NAME` or the file named by `NAME_FILE` (Docker secrets); trailing newline dropped. */
export function secret(
  env: Env,
  name: string,
  readFile = (p: string) => readFileSync(p, 'utf8'),
): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    if (env[name]) throw new Error(`${name} and ${name}_FILE are both set; use one`);
    try {
      return readFile(file).replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(`${name}_FILE: cannot read "${file}": ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  return env[name];
}

function target(
  env: Env,
  prefix: string,
  defUser: string,
  defPort: number,
  readFile?: (p: string) => string,
): DbTarget {
  const user = env[`${prefix}_USER`] || defUser;
  if (!/^[^\s'"\\]{1,80}$/.test(user)) throw new Error(`${prefix}_USER: "${user}" is not a valid user name`);
  return {
    host: env[`${prefix}_HOST`] || '127.0.0.1',
    port: int(env, `${prefix}_PORT`, defPort, 1, 65535),
    socketPath: env[`${prefix}_SOCKET`] || undefined,
    user,
    password: secret(env, `${prefix}_PASSWORD`, readFile) ?? '',
  };
}

/**
 * Validates the environment into a Config.
 * @throws Error naming the variable and what is wrong with its value.
 */
export function loadConfig(env: Env, readFile?: (p: string) => string): Config {
  const intervalMs = int(env, 'HEALTH_INTERVAL_MS', 1000, 100, 60_000);
  const queryTimeoutMs = int(env, 'HEALTH_QUERY_TIMEOUT_MS', Math.min(800, intervalMs), 50, 60_000);
  if (queryTimeoutMs > intervalMs)
    throw new Error(
      `HEALTH_QUERY_TIMEOUT_MS: ${queryTimeoutMs} must not exceed HEALTH_INTERVAL_MS (${intervalMs}): a slow poll would overlap the next`,
    );
  const degraded = num(env, 'HEALTH_CONNECTIONS_DEGRADED', 0.8, 0, 1);
  const unhealthy = num(env, 'HEALTH_CONNECTIONS_UNHEALTHY', 0.95, 0, 1);
  if (degraded > unhealthy)
    throw new Error(
      `HEALTH_CONNECTIONS_DEGRADED: ${degraded} must not exceed HEALTH_CONNECTIONS_UNHEALTHY (${unhealthy})`,
    );
  const drainToken = secret(env, 'HEALTH_DRAIN_TOKEN', readFile);
  if (drainToken !== undefined && drainToken.length < 16)
    throw new Error('HEALTH_DRAIN_TOKEN: must be at least 16 characters');
  const proxysqlOn = Boolean(env.PROXYSQL_ADMIN_PORT || env.PROXYSQL_ADMIN_SOCKET);
  return {
    host: env.HOST || '0.0.0.0',
    port: int(env, 'PORT', 9200, 0, 65535),
    logLevel: env.LOG_LEVEL || 'info',
    mysql: target(env, 'MYSQL', 'health', 3306, readFile),
    proxysql: proxysqlOn ? target(env, 'PROXYSQL_ADMIN', 'stats', 6032, readFile) : undefined,
    intervalMs,
    queryTimeoutMs,
    canaryIntervalMs: int(env, 'HEALTH_CANARY_INTERVAL_MS', 30_000, 0, 3_600_000),
    policy: {
      timeoutFall: int(env, 'HEALTH_TIMEOUT_FALL', 2, 1, 10),
      expectedClusterSize: int(env, 'HEALTH_EXPECTED_CLUSTER_SIZE', 3, 1, 64),
      flowControlDegraded: num(env, 'HEALTH_FLOW_CONTROL_DEGRADED', 0.1, 0, 1),
      connectionsDegraded: degraded,
      connectionsUnhealthy: unhealthy,
    },
    staleIntervals: int(env, 'HEALTH_STALE_INTERVALS', 3, 2, 100),
    drainFile: env.HEALTH_DRAIN_FILE || undefined,
    drainToken,
  };
}
