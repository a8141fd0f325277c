/**
 * The checker's configuration: read from an environment-like record once, validated, with
 * messages naming the variable. server.ts is the only caller with the real process.env.
 * Passwords come from `*_PASSWORD` or `*_PASSWORD_FILE`, never argv; they are never logged.
 */
import { type Env, type EnvReader, envReader } from '@wpfarm/common/config/env';
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

function target(r: EnvReader, prefix: string, defUser: string, defPort: number): DbTarget {
  const user = r.str(`${prefix}_USER`, defUser);
  if (!/^[^\s'"\\]{1,80}$/.test(user)) r.problem(`${prefix}_USER: "${user}" is not a valid user name`);
  return {
    host: r.str(`${prefix}_HOST`, '127.0.0.1'),
    port: r.int(`${prefix}_PORT`, defPort, 1, 65535),
    socketPath: r.opt(`${prefix}_SOCKET`),
    user,
    password: r.secret(`${prefix}_PASSWORD`) ?? '',
  };
}

/**
 * Validates the environment into a Config.
 * @throws ConfigError naming every variable that is wrong, never a secret's value.
 */
export function loadConfig(env: Env, readFile?: (p: string) => string): Config {
  const r = envReader(env, readFile);
  const intervalMs = r.int('HEALTH_INTERVAL_MS', 1000, 100, 60_000);
  const queryTimeoutMs = r.int('HEALTH_QUERY_TIMEOUT_MS', Math.min(800, intervalMs), 50, 60_000);
  if (queryTimeoutMs > intervalMs)
    r.problem(
      `HEALTH_QUERY_TIMEOUT_MS: ${queryTimeoutMs} must not exceed HEALTH_INTERVAL_MS (${intervalMs}): a slow poll would overlap the next`,
    );
  const degraded = r.num('HEALTH_CONNECTIONS_DEGRADED', 0.8, 0, 1);
  const unhealthy = r.num('HEALTH_CONNECTIONS_UNHEALTHY', 0.95, 0, 1);
  if (degraded > unhealthy)
    r.problem(
      `HEALTH_CONNECTIONS_DEGRADED: ${degraded} must not exceed HEALTH_CONNECTIONS_UNHEALTHY (${unhealthy})`,
    );
  const drainToken = r.secret('HEALTH_DRAIN_TOKEN', { minLength: 16 });
  const proxysqlOn = Boolean(r.opt('PROXYSQL_ADMIN_PORT') || r.opt('PROXYSQL_ADMIN_SOCKET'));
  const config: Config = {
    host: r.str('HOST', '0.0.0.0'),
    port: r.int('PORT', 9200, 0, 65535),
    logLevel: r.str('LOG_LEVEL', 'info'),
    mysql: target(r, 'MYSQL', 'health', 3306),
    proxysql: proxysqlOn ? target(r, 'PROXYSQL_ADMIN', 'stats', 6032) : undefined,
    intervalMs,
    queryTimeoutMs,
    canaryIntervalMs: r.int('HEALTH_CANARY_INTERVAL_MS', 30_000, 0, 3_600_000),
    policy: {
      timeoutFall: r.int('HEALTH_TIMEOUT_FALL', 2, 1, 10),
      expectedClusterSize: r.int('HEALTH_EXPECTED_CLUSTER_SIZE', 3, 1, 64),
      flowControlDegraded: r.num('HEALTH_FLOW_CONTROL_DEGRADED', 0.1, 0, 1),
      connectionsDegraded: degraded,
      connectionsUnhealthy: unhealthy,
    },
    staleIntervals: r.int('HEALTH_STALE_INTERVALS', 3, 2, 100),
    drainFile: r.opt('HEALTH_DRAIN_FILE'),
    drainToken,
  };
  r.done();
  return config;
}
