/**
 * The checker's configuration: read from an environment-like record once, validated, with
 * messages naming the variable. server.ts is the only caller with the real process.env.
 * Passwords come from `*_PASSWORD` or `*_PASSWORD_FILE`, never argv; they are never logged.
 */
import { type Env, type EnvReader, envReader } from '@wpfarm/common/config/env';
import { CONNECTION_LIMIT_DEFAULTS, type ConnectionLimits } from '@wpfarm/common/http-limits';
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
  /** Milliseconds from one evaluation's start to the next one's (when a round is shorter). */
  intervalMs: number;
  /** Per-query (and connect) timeout; a round never lasts longer than this (+50 ms). */
  queryTimeoutMs: number;
  /** A snapshot older than this answers 503: `staleIntervals × intervalMs + queryTimeoutMs`. */
  staleMs: number;
  /** A fresh-connection canary every this many ms (0 = off). */
  canaryIntervalMs: number;
  policy: Policy;
  /** A snapshot older than this many intervals answers 503. */
  staleIntervals: number;
  drainFile: string | undefined;
  /** Bearer token for POST/DELETE /drain (and /status); undefined = the drain API is off. */
  drainToken: string | undefined;
  /** Bearer token for GET /status only (read, no drain); /status is off when neither is set. */
  statusToken: string | undefined;
  /** What a client connection may hold: a silent one is closed after the headers timeout. */
  connections: ConnectionLimits;
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
  // 100 ms: a definite change (desync, non-Primary, read_only) is in the verdict within one
  // interval plus the round's own few milliseconds, under 300 ms (issue 16); one statement per
  // round (bench/results/proxysql-health.json has what that costs the database).
  const intervalMs = r.int('HEALTH_INTERVAL_MS', 100, 50, 60_000);
  // Not tied to the interval: rounds never overlap (the next starts when this one ended), and a
  // slow answer is judged by the timeout hysteresis, whatever the polling rate.
  const queryTimeoutMs = r.int('HEALTH_QUERY_TIMEOUT_MS', 800, 50, 60_000);
  const staleIntervals = r.int('HEALTH_STALE_INTERVALS', 3, 2, 100);
  const headersTimeoutMs = r.int('HEALTH_HEADERS_TIMEOUT_MS', 5000, 100, 600_000);
  const degraded = r.num('HEALTH_CONNECTIONS_DEGRADED', 0.8, 0, 1);
  const unhealthy = r.num('HEALTH_CONNECTIONS_UNHEALTHY', 0.95, 0, 1);
  if (degraded > unhealthy)
    r.problem(
      `HEALTH_CONNECTIONS_DEGRADED: ${degraded} must not exceed HEALTH_CONNECTIONS_UNHEALTHY (${unhealthy})`,
    );
  const drainToken = r.secret('HEALTH_DRAIN_TOKEN', { minLength: 16 });
  const statusToken = r.secret('HEALTH_STATUS_TOKEN', { minLength: 16 });
  const proxysqlOn = Boolean(r.opt('PROXYSQL_ADMIN_PORT') || r.opt('PROXYSQL_ADMIN_SOCKET'));
  const config: Config = {
    host: r.str('HOST', '0.0.0.0'),
    port: r.int('PORT', 9200, 0, 65535),
    logLevel: r.str('LOG_LEVEL', 'info'),
    mysql: target(r, 'MYSQL', 'health', 3306),
    proxysql: proxysqlOn ? target(r, 'PROXYSQL_ADMIN', 'stats', 6032) : undefined,
    intervalMs,
    queryTimeoutMs,
    staleMs: staleIntervals * intervalMs + queryTimeoutMs,
    canaryIntervalMs: r.int('HEALTH_CANARY_INTERVAL_MS', 30_000, 0, 3_600_000),
    policy: {
      timeoutFall: r.int('HEALTH_TIMEOUT_FALL', 2, 1, 10),
      expectedClusterSize: r.int('HEALTH_EXPECTED_CLUSTER_SIZE', 3, 1, 64),
      flowControlDegraded: r.num('HEALTH_FLOW_CONTROL_DEGRADED', 0.1, 0, 1),
      connectionsDegraded: degraded,
      connectionsUnhealthy: unhealthy,
    },
    staleIntervals,
    drainFile: r.opt('HEALTH_DRAIN_FILE'),
    drainToken,
    statusToken,
    connections: {
      headersTimeoutMs,
      requestTimeoutMs: r.int('HEALTH_REQUEST_TIMEOUT_MS', 10_000, 100, 600_000),
      keepAliveTimeoutMs: r.int('HEALTH_KEEPALIVE_TIMEOUT_MS', 5000, 100, 3_600_000),
      // Probes come from a few LB addresses, Prometheus and an operator: far below this.
      maxConnections: r.int('HEALTH_MAX_CONNECTIONS', 1000, 1, CONNECTION_LIMIT_DEFAULTS.maxConnections * 10),
    },
  };
  r.done();
  return config;
}
