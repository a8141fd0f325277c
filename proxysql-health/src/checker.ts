/**
 * The background evaluation: persistent connections to the local MariaDB and to ProxySQL's admin
 * interface, polled every interval with a per-query deadline; a fresh-connection canary now and
 * then; the drain file. Each round feeds the pure state machine (verdict.ts) and publishes the
 * result. Probes never wait on anything here.
 */
import { access } from 'node:fs/promises';
import mysql from 'mysql2/promise';
import type { Logger } from 'pino';
import type { Config, DbTarget } from './config.ts';
import { isTimeout } from './errors.ts';
import {
  evaluate,
  type GaleraHostgroup,
  type GaleraLogRow,
  type GaleraObservation,
  INITIAL_STATE,
  type Inputs,
  type MachineState,
  type PoolRow,
  type ProxysqlObservation,
  type Verdict,
} from './verdict.ts';

/** Every Galera status and variable the machine reads, in one statement (one `Questions` per round). */
export const GALERA_SQL = `SELECT LOWER(VARIABLE_NAME) AS n, VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS
 WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE','WSREP_CLUSTER_STATUS','WSREP_READY','WSREP_CONNECTED',
  'WSREP_FLOW_CONTROL_PAUSED','WSREP_LOCAL_RECV_QUEUE','WSREP_CLUSTER_SIZE','THREADS_CONNECTED')
UNION ALL SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES
 WHERE VARIABLE_NAME IN ('WSREP_DESYNC','WSREP_SST_DONOR_REJECTS_QUERIES','WSREP_REJECT_QUERIES','READ_ONLY','MAX_CONNECTIONS')`;

/** ProxySQL admin queries; schema-qualified so they read the same on ProxySQL and on the stand-in. */
export const PROXYSQL_SQL = {
  hostgroups:
    'SELECT writer_hostgroup, backup_writer_hostgroup, reader_hostgroup, offline_hostgroup, active FROM main.runtime_mysql_galera_hostgroups',
  pool: 'SELECT hostgroup, srv_host, srv_port, status FROM stats.stats_mysql_connection_pool',
  galeraLog:
    'SELECT hostname, port, time_start_us, error FROM monitor.mysql_server_galera_log ORDER BY time_start_us DESC LIMIT 64',
} as const;

/** What one round produced, for the HTTP side (`/status`, `/metrics`, the probes). */
export interface Evaluation {
  verdict: Verdict;
  at: number;
  durationMs: number;
  galera: GaleraObservation;
  proxysql: ProxysqlObservation;
  canary: { at: number | undefined; error: string | undefined };
  drain: { api: boolean; file: boolean };
}

export interface CheckerDeps {
  config: Config;
  logger: Logger;
  onEvaluation(e: Evaluation): void;
  /** Called for each failed query (metrics). */
  onFailure?(target: 'mariadb' | 'proxysql' | 'canary', kind: 'timeout' | 'error'): void;
  now?: () => number;
}

export interface Checker {
  start(): void;
  stop(): Promise<void>;
  /** Runs one round now (tests, and the first round at start). */
  runOnce(): Promise<Evaluation>;
  /** Sets the API drain and re-publishes the verdict at once, without touching MariaDB. */
  setDrain(on: boolean): Evaluation | undefined;
  readonly drained: boolean;
}

class DeadlineError extends Error {
  readonly code = 'HEALTH_DEADLINE';
}

/**
 * Resolves with `p` or rejects after `ms`, calling `onLate` so the caller can destroy the socket.
 * mysql2 has its own timeouts; this one is the guarantee that a round always ends.
 */
function deadline<T>(p: Promise<T>, ms: number, onLate: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onLate();
      reject(new DeadlineError(`no answer within ${ms} ms`));
    }, ms);
  });
  p.catch(() => {}); // the loser of the race must not surface as unhandled
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function connOptions(t: DbTarget, timeoutMs: number): mysql.ConnectionOptions {
  return {
    ...(t.socketPath ? { socketPath: t.socketPath } : { host: t.host, port: t.port }),
    user: t.user,
    password: t.password,
    connectTimeout: timeoutMs,
    // ProxySQL's admin interface is not a full MySQL: no session set-up queries.
    supportBigNumbers: true,
  };
}

/** One persistent connection that reconnects on the next use after any failure. */
function persistent(name: string, t: DbTarget, timeoutMs: number, logger: Logger) {
  let conn: mysql.Connection | undefined;
  let connecting: Promise<mysql.Connection> | undefined;
  const drop = () => {
    conn?.destroy();
    conn = undefined;
    connecting = undefined;
  };
  const get = (): Promise<mysql.Connection> => {
    if (conn) return Promise.resolve(conn);
    connecting ??= mysql.createConnection(connOptions(t, timeoutMs)).then(
      (c) => {
        // An idle socket can fail (server restarted); without a listener that would crash us.
        c.on('error', (err: Error) => {
          logger.debug({ target: name, err: err.message }, 'connection error');
          if (conn === c) drop();
        });
        conn = c;
        connecting = undefined;
        return c;
      },
      (err) => {
        connecting = undefined;
        throw err;
      },
    );
    return connecting;
  };
  return {
    async query<T>(sql: string): Promise<T> {
      const run = async () => {
        const c = await get();
        const [rows] = await c.query({ sql, timeout: timeoutMs });
        return rows as T;
      };
      try {
        return await deadline(run(), timeoutMs + 50, drop);
      } catch (err) {
        drop();
        throw err;
      }
    },
    close: drop,
  };
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return (e.code ? `${e.code}: ` : '') + (e.message ?? String(err)).slice(0, 200);
}

/** Creates the background checker; `start()` begins the rounds. */
export function createChecker(deps: CheckerDeps): Checker {
  const { config, logger } = deps;
  const now = deps.now ?? Date.now;
  const t = config.queryTimeoutMs;
  const db = persistent('mariadb', config.mysql, t, logger);
  const admin = config.proxysql ? persistent('proxysql', config.proxysql, t, logger) : undefined;
  let state: MachineState = INITIAL_STATE;
  let stateBefore: MachineState = INITIAL_STATE;
  let lastInputs: Inputs | undefined;
  let last: Evaluation | undefined;
  let apiDrain = false;
  let canaryAt: number | undefined;
  let canaryError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  const fail = (target: 'mariadb' | 'proxysql' | 'canary', err: unknown) => {
    const kind = isTimeout(err) ? 'timeout' : 'error';
    deps.onFailure?.(target, kind);
    return { kind, message: describe(err) } as const;
  };

  async function pollGalera(): Promise<GaleraObservation> {
    try {
      const rows = await db.query<{ n: string; v: string }[]>(GALERA_SQL);
      return { kind: 'sample', vars: Object.fromEntries(rows.map((r) => [r.n, String(r.v)])) };
    } catch (err) {
      return fail('mariadb', err);
    }
  }

  async function pollProxysql(): Promise<ProxysqlObservation> {
    if (!admin) return { kind: 'absent' };
    try {
      const hostgroups = await admin.query<GaleraHostgroup[]>(PROXYSQL_SQL.hostgroups);
      const pool = await admin.query<PoolRow[]>(PROXYSQL_SQL.pool);
      const galeraLog = await admin.query<GaleraLogRow[]>(PROXYSQL_SQL.galeraLog);
      return { kind: 'sample', hostgroups, pool, galeraLog };
    } catch (err) {
      return fail('proxysql', err);
    }
  }

  /** A fresh connection, as a client would open one: sees max_connections and a stuck acceptor. */
  async function canary(): Promise<void> {
    let c: mysql.Connection | undefined;
    try {
      const open = mysql.createConnection(connOptions(config.mysql, t)).then((x) => {
        c = x;
        x.on('error', () => {});
        return x.query({ sql: 'SELECT 1', timeout: t });
      });
      await deadline(open, t + 50, () => c?.destroy());
      canaryError = undefined;
    } catch (err) {
      canaryError = fail('canary', err).message;
    } finally {
      c?.destroy();
      canaryAt = now();
    }
  }

  async function drainFile(): Promise<boolean> {
    if (!config.drainFile) return false;
    try {
      await access(config.drainFile);
      return true;
    } catch {
      return false;
    }
  }

  function publish(
    inputs: Inputs,
    from: MachineState,
    started: number,
    fileDrain: boolean,
    at = now(),
  ): Evaluation {
    const r = evaluate(inputs, from, config.policy);
    stateBefore = from;
    state = r.state;
    lastInputs = inputs;
    const previous = last?.verdict;
    last = {
      verdict: r.verdict,
      at,
      durationMs: now() - started,
      galera: inputs.galera,
      proxysql: inputs.proxysql,
      canary: { at: canaryAt, error: canaryError },
      drain: { api: apiDrain, file: fileDrain },
    };
    if (
      !previous ||
      previous.health !== r.verdict.health ||
      previous.writer !== r.verdict.writer ||
      previous.reasons.join() !== r.verdict.reasons.join()
    )
      logger.info({ verdict: r.verdict, previous: previous?.health }, 'verdict');
    deps.onEvaluation(last);
    return last;
  }

  async function round(): Promise<Evaluation> {
    const started = now();
    const canaryDue =
      config.canaryIntervalMs > 0 &&
      (canaryAt === undefined || started - canaryAt >= config.canaryIntervalMs);
    const [galera, proxysql, file] = await Promise.all([
      pollGalera(),
      pollProxysql(),
      drainFile(),
      canaryDue ? canary() : undefined,
    ]);
    return publish({ galera, proxysql, drainRequested: apiDrain || file, canaryError }, state, started, file);
  }

  function schedule(delay: number) {
    if (stopped) return;
    timer = setTimeout(() => {
      const started = now();
      running = round()
        .catch((err) => logger.error({ err }, 'evaluation failed'))
        .finally(() => schedule(Math.max(0, config.intervalMs - (now() - started))));
    }, delay);
  }

  return {
    start() {
      stopped = false;
      schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      db.close();
      admin?.close();
    },
    runOnce: round,
    setDrain(on) {
      apiDrain = on;
      if (!lastInputs || !last) return undefined;
      // Same observations, same starting state and age: only the drain input changes (a drain
      // must not make a stuck loop's snapshot look fresh).
      const file = last.drain.file;
      return publish({ ...lastInputs, drainRequested: on || file }, stateBefore, now(), file, last.at);
    },
    get drained() {
      return apiDrain;
    },
  };
}
