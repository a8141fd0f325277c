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
  proofWanted,
  type Verdict,
} from './verdict.ts';

/** Server variables the machine reads: `@@global` costs next to nothing against a table scan. */
const VARIABLES = [
  'wsrep_desync',
  'wsrep_sst_donor_rejects_queries',
  'wsrep_reject_queries',
  'read_only',
  'max_connections',
] as const;

/**
 * Every Galera status and variable the machine reads, in one statement (one `Questions` per
 * round). Status values need `GLOBAL_STATUS` (~0.4 ms of server CPU, it computes every status
 * variable); the variables come as `@@global` values (booleans as 0/1), which took the statement
 * from ~0.65 to ~0.45 ms of server CPU against `GLOBAL_VARIABLES` (bench/results/proxysql-health.json).
 */
export const GALERA_SQL = `SELECT LOWER(VARIABLE_NAME) AS n, VARIABLE_VALUE AS v FROM information_schema.GLOBAL_STATUS
 WHERE VARIABLE_NAME IN ('WSREP_LOCAL_STATE','WSREP_CLUSTER_STATUS','WSREP_READY','WSREP_CONNECTED',
  'WSREP_FLOW_CONTROL_PAUSED','WSREP_LOCAL_RECV_QUEUE','WSREP_CLUSTER_SIZE','THREADS_CONNECTED')
${VARIABLES.map((v) => `UNION ALL SELECT '${v}', @@global.${v}`).join('\n')}`;

/**
 * The same read, made causal: `wsrep_sync_wait=1` sends a message through the cluster's total
 * order and waits until this node has applied everything ordered before it, so an answer proves
 * the node is in the Primary component and caught up *now*. A node that thawed from a freeze (or
 * was cut off) still reports its old Synced/Primary view for seconds; this read blocks instead.
 * No privilege needed; one statement, run only while the machine asks for a proof.
 */
export const GALERA_PROOF_SQL = `SET STATEMENT wsrep_sync_wait=1 FOR ${GALERA_SQL}`;

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
  /** Rounds published since start (a drain re-render keeps its round's number). */
  seq: number;
  verdict: Verdict;
  /** When the round started (its observations are no older) and when it was published. */
  startedAt: number;
  at: number;
  durationMs: number;
  galera: GaleraObservation;
  proxysql: ProxysqlObservation;
  canary: { at: number | undefined; error: string | undefined };
  /** This round's Primary proof (undefined: not needed or not worth running). */
  proof: 'passed' | 'failed' | undefined;
  drain: { api: boolean; file: boolean };
}

export interface CheckerDeps {
  config: Config;
  logger: Logger;
  onEvaluation(e: Evaluation): void;
  /** Called for each failed query (metrics). */
  onFailure?(target: FailureTarget, kind: 'timeout' | 'error'): void;
  now?: () => number;
}

/** What a failed query was for (the metric's `target` label). */
export type FailureTarget = 'mariadb' | 'proof' | 'proxysql' | 'canary';

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
    /** Runs `sql` within `ms` (default: the query timeout), connecting first if needed. */
    async query<T>(sql: string, ms = timeoutMs): Promise<T> {
      const run = async () => {
        const c = await get();
        const [rows] = await c.query({ sql, timeout: ms });
        return rows as T;
      };
      try {
        return await deadline(run(), ms + 50, drop);
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
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = false;

  const fail = (target: FailureTarget, err: unknown) => {
    const kind = isTimeout(err) ? 'timeout' : 'error';
    deps.onFailure?.(target, kind);
    return { kind, message: describe(err) } as const;
  };

  const sample = (rows: { n: string; v: string }[]): GaleraObservation => ({
    kind: 'sample',
    vars: Object.fromEntries(rows.map((r) => [r.n, String(r.v)])),
  });

  /**
   * The Galera read, then (when the machine wants one) the Primary proof on the same connection,
   * both within one query timeout so a round keeps its deadline. A passed proof's causal read
   * replaces the plain one: it was taken after the node caught up with the cluster.
   */
  async function pollGalera(
    gap: boolean,
  ): Promise<{ galera: GaleraObservation; proof: 'passed' | 'failed' | undefined }> {
    const started = now();
    let galera: GaleraObservation;
    try {
      galera = sample(await db.query<{ n: string; v: string }[]>(GALERA_SQL));
    } catch (err) {
      return { galera: fail('mariadb', err), proof: undefined };
    }
    if (!proofWanted(state, galera, gap)) return { galera, proof: undefined };
    try {
      const left = Math.max(50, t - (now() - started));
      return {
        galera: sample(await db.query<{ n: string; v: string }[]>(GALERA_PROOF_SQL, left)),
        proof: 'passed',
      };
    } catch (err) {
      const f = fail('proof', err);
      logger.debug({ err: f.message }, 'primary proof failed');
      return { galera, proof: 'failed' };
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
    round: number,
    at = now(),
  ): Evaluation {
    const r = evaluate(inputs, from, config.policy);
    stateBefore = from;
    state = r.state;
    lastInputs = inputs;
    const previous = last?.verdict;
    last = {
      seq: round,
      verdict: r.verdict,
      startedAt: started,
      at,
      durationMs: at - started,
      galera: inputs.galera,
      proxysql: inputs.proxysql,
      canary: { at: canaryAt, error: canaryError },
      proof: inputs.primaryProof,
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
    // A failed canary is retried every round: it holds the node at 503, so it must not wait for
    // its own interval to let the node back in.
    const canaryDue =
      config.canaryIntervalMs > 0 &&
      (canaryError !== undefined || canaryAt === undefined || started - canaryAt >= config.canaryIntervalMs);
    // Rounds follow each other within an interval plus a query timeout; a longer silence means
    // this process was frozen or starved, and the node may have changed unseen meanwhile.
    const gap = last !== undefined && started - last.at > config.staleMs;
    const [{ galera, proof }, proxysql, file] = await Promise.all([
      pollGalera(gap),
      pollProxysql(),
      drainFile(),
      canaryDue ? canary() : undefined,
    ]);
    const inputs: Inputs = {
      galera,
      proxysql,
      drainRequested: apiDrain || file,
      canaryError,
      primaryProof: proof,
      gap,
    };
    return publish(inputs, state, started, file, ++seq);
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
      return publish(
        { ...lastInputs, drainRequested: on || file },
        stateBefore,
        last.startedAt,
        file,
        last.seq,
        last.at,
      );
    },
    get drained() {
      return apiDrain;
    },
  };
}
