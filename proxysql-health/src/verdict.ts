/**
 * The health state machine: pure functions over plain observations, no I/O. The order of the
 * checks is the one in ARCHITECTURE.md (Galera / ProxySQL health state machine); the first check
 * that fails decides, so a reason always names the most basic fault.
 */

/** What one poll of the local MariaDB produced. Variable names are lower-case. */
export type GaleraObservation =
  | { kind: 'sample'; vars: Readonly<Record<string, string>> }
  | { kind: 'timeout'; message: string }
  | { kind: 'error'; message: string };

/** A row of ProxySQL's `runtime_mysql_galera_hostgroups`. */
export interface GaleraHostgroup {
  writer_hostgroup: number;
  backup_writer_hostgroup: number;
  reader_hostgroup: number;
  offline_hostgroup: number;
  active: number;
}

/** A row of ProxySQL's `stats_mysql_connection_pool`. */
export interface PoolRow {
  hostgroup: number;
  srv_host: string;
  srv_port: number;
  status: string;
}

/** A row of ProxySQL's `monitor.mysql_server_galera_log`. */
export interface GaleraLogRow {
  hostname: string;
  port: number;
  time_start_us: number;
  error: string | null;
}

/** What one poll of ProxySQL's admin interface produced; `absent` when ProxySQL is not checked. */
export type ProxysqlObservation =
  | { kind: 'absent' }
  | { kind: 'sample'; hostgroups: GaleraHostgroup[]; pool: PoolRow[]; galeraLog: GaleraLogRow[] }
  | { kind: 'timeout'; message: string }
  | { kind: 'error'; message: string };

/** Thresholds of the state machine (from config). */
export interface Policy {
  /** Consecutive timeouts before a timeout counts as unhealthy (2–3). */
  timeoutFall: number;
  expectedClusterSize: number;
  /** `wsrep_flow_control_paused` above this is degraded. */
  flowControlDegraded: number;
  /** Threads_connected / max_connections at or above this is degraded. */
  connectionsDegraded: number;
  /** ... and at or above this, unhealthy: new connections are about to be refused. */
  connectionsUnhealthy: number;
}

export const DEFAULT_POLICY: Policy = Object.freeze({
  timeoutFall: 2,
  expectedClusterSize: 3,
  flowControlDegraded: 0.1,
  connectionsDegraded: 0.8,
  connectionsUnhealthy: 0.95,
});

/** healthy and degraded take traffic; drained and unhealthy do not. */
export type Health = 'healthy' | 'degraded' | 'drained' | 'unhealthy';

/** The verdict the HTTP endpoints render. */
export interface Verdict {
  health: Health;
  /** Fit for writes (`/health/writer`). */
  writer: boolean;
  /** Fit for reads (`/health/reader`). */
  reader: boolean;
  /** Why: the deciding fault first, then degradations and notes. Stable, machine-readable. */
  reasons: string[];
}

/** What the machine carries from one evaluation to the next (hysteresis). */
export interface MachineState {
  galeraTimeouts: number;
  proxysqlTimeouts: number;
  /** The last verdict's Galera part, kept while timeouts are below the threshold. */
  lastGalera: Part | undefined;
  lastProxysql: Part | undefined;
  recvQueue: number | undefined;
  /**
   * The node must prove it is in the Primary component now before it can be fit again: set at
   * start and whenever the checker lost sight of it (a failed or timed-out poll or canary, a gap
   * in the rounds), cleared by a passed proof. A node that was frozen or cut off goes on reporting
   * its last view (Synced, Primary) for seconds after it thaws, while the cluster has moved on.
   */
  unproven: boolean;
}

export const INITIAL_STATE: MachineState = Object.freeze({
  galeraTimeouts: 0,
  proxysqlTimeouts: 0,
  lastGalera: undefined,
  lastProxysql: undefined,
  recvQueue: undefined,
  unproven: true,
});

/** Everything one evaluation looks at. */
export interface Inputs {
  galera: GaleraObservation;
  proxysql: ProxysqlObservation;
  /** A drain requested through the API or the drain file. */
  drainRequested: boolean;
  /** The last fresh-connection canary failed (undefined: not run yet, or passed). */
  canaryError: string | undefined;
  /**
   * This round's proof that the node is in the Primary component now (a causal read: it waits for
   * a round trip through the cluster's total order and for the node to apply up to it); undefined
   * when it was not run. See `proofWanted`.
   */
  primaryProof?: 'passed' | 'failed' | undefined;
  /**
   * The previous round ended longer ago than the snapshot may be old (this process was frozen or
   * starved): whatever the node says now may predate what happened meanwhile.
   */
  gap?: boolean;
}

/** One side's contribution: a fault that decides, or fitness with degradations. */
export interface Part {
  state: 'ok' | 'drained' | 'unhealthy';
  readOnly: boolean;
  reasons: string[];
}

const ON = (v: string | undefined) => v !== undefined && /^(on|1|true|yes)$/i.test(v);
const OFF = (v: string | undefined) => v === undefined || /^(off|0|false|no)$/i.test(v);

const bad = (reason: string): Part => ({ state: 'unhealthy', readOnly: false, reasons: [reason] });

/**
 * Judges one Galera sample (no hysteresis), in the order of ARCHITECTURE.md.
 * @example judgeGalera({ wsrep_local_state: '4', wsrep_cluster_status: 'Primary', ... }, DEFAULT_POLICY, undefined)
 */
export function judgeGalera(
  v: Readonly<Record<string, string>>,
  policy: Policy,
  previousRecvQueue: number | undefined,
): Part {
  const local = v.wsrep_local_state;
  if (local === undefined || local === '') return bad('wsrep_local_state_missing');
  if (v.wsrep_cluster_status !== 'Primary')
    return bad(`cluster_status_${(v.wsrep_cluster_status ?? 'unknown').toLowerCase()}`);
  if (!ON(v.wsrep_ready)) return bad('wsrep_ready_off');
  if (!ON(v.wsrep_connected)) return bad('wsrep_connected_off');
  if (ON(v.wsrep_desync)) return { state: 'drained', readOnly: false, reasons: ['wsrep_desync'] };
  const reasons: string[] = [];
  if (local === '2') {
    // A donor serves queries unless wsrep_sst_donor_rejects_queries says it must not.
    if (!OFF(v.wsrep_sst_donor_rejects_queries)) return bad('donor_rejects_queries');
    reasons.push('donor');
  } else if (local !== '4') {
    return bad(`not_synced_${local}`);
  }
  if (v.wsrep_reject_queries !== undefined && v.wsrep_reject_queries.toUpperCase() !== 'NONE')
    return { state: 'drained', readOnly: false, reasons: ['wsrep_reject_queries'] };

  const threads = Number(v.threads_connected);
  const max = Number(v.max_connections);
  if (Number.isFinite(threads) && Number.isFinite(max) && max > 0) {
    const used = threads / max;
    if (used >= policy.connectionsUnhealthy) return bad('connections_saturated');
    if (used >= policy.connectionsDegraded) reasons.push('connections_high');
  }
  const readOnly = ON(v.read_only);
  if (readOnly) reasons.push('read_only');
  const fc = Number(v.wsrep_flow_control_paused);
  if (Number.isFinite(fc) && fc > policy.flowControlDegraded) reasons.push('flow_control_paused');
  const recv = Number(v.wsrep_local_recv_queue);
  if (Number.isFinite(recv) && previousRecvQueue !== undefined && recv > previousRecvQueue && recv > 1)
    reasons.push('recv_queue_growing');
  const size = Number(v.wsrep_cluster_size);
  if (Number.isFinite(size) && size < policy.expectedClusterSize) reasons.push('cluster_size_below_expected');
  return { state: 'ok', readOnly, reasons };
}

/**
 * Whether this round should run the Primary proof: only while the machine wants one and the node
 * claims to be a ready Primary member (a node that says otherwise is judged on what it says, and a
 * causal read on it would only block until its deadline).
 */
export function proofWanted(state: MachineState, g: GaleraObservation, gap = false): boolean {
  return (
    (state.unproven || gap) &&
    g.kind === 'sample' &&
    g.vars.wsrep_cluster_status === 'Primary' &&
    ON(g.vars.wsrep_ready) &&
    (g.vars.wsrep_local_state === '4' || g.vars.wsrep_local_state === '2')
  );
}

/**
 * Judges one ProxySQL sample: counts ONLINE servers per hostgroup of every active Galera
 * hostgroup set; no ONLINE writer is unhealthy, readers that exist but none ONLINE is degraded.
 */
export function judgeProxysql(sample: {
  hostgroups: GaleraHostgroup[];
  pool: PoolRow[];
  galeraLog: GaleraLogRow[];
}): Part {
  const active = sample.hostgroups.filter((h) => Number(h.active) === 1);
  if (active.length === 0) return bad('proxysql_no_galera_hostgroup');
  const reasons: string[] = [];
  for (const hg of active) {
    const inGroup = (id: number) => sample.pool.filter((r) => Number(r.hostgroup) === Number(id));
    const online = (rows: PoolRow[]) => rows.filter((r) => r.status === 'ONLINE').length;
    if (online(inGroup(hg.writer_hostgroup)) === 0) return bad('proxysql_no_online_writer');
    const readers = inGroup(hg.reader_hostgroup);
    if (readers.length > 0 && online(readers) === 0) {
      reasons.push(
        readers.every((r) => r.status === 'SHUNNED')
          ? 'proxysql_readers_all_shunned'
          : 'proxysql_no_online_reader',
      );
    }
  }
  // The monitor's latest check of each backend: an error there is worth a look, not a 503.
  const latest = new Map<string, GaleraLogRow>();
  for (const row of sample.galeraLog) {
    const key = `${row.hostname}:${row.port}`;
    const seen = latest.get(key);
    if (!seen || Number(row.time_start_us) > Number(seen.time_start_us)) latest.set(key, row);
  }
  if ([...latest.values()].some((r) => r.error)) reasons.push('proxysql_monitor_error');
  return { state: 'ok', readOnly: false, reasons: [...new Set(reasons)] };
}

/** Applies the timeout hysteresis to one side's observation. */
function side(
  obs: { kind: 'timeout' | 'error'; message: string } | { kind: 'part'; part: Part },
  timeouts: number,
  last: Part | undefined,
  fall: number,
  prefix: string,
): { part: Part; timeouts: number; last: Part | undefined } {
  if (obs.kind === 'part') return { part: obs.part, timeouts: 0, last: obs.part };
  if (obs.kind === 'error') return { part: bad(`${prefix}_error`), timeouts: 0, last: undefined };
  const n = timeouts + 1;
  // One slow answer is not an outage; a run of them is. Until then, the last judgement stands.
  if (n < fall && last && last.state !== 'unhealthy')
    return {
      part: { ...last, reasons: [...last.reasons, `${prefix}_timeout_${n}_of_${fall}`] },
      timeouts: n,
      last,
    };
  return { part: bad(`${prefix}_timeout`), timeouts: n, last };
}

/**
 * One step of the machine: inputs + previous state → verdict + next state. Definite faults
 * (non-Primary, wsrep_ready OFF, no ONLINE writer, a query error) flip at once; timeouts need
 * `policy.timeoutFall` in a row.
 */
export function evaluate(
  inputs: Inputs,
  prev: MachineState,
  policy: Policy,
): { verdict: Verdict; state: MachineState } {
  const g = inputs.galera;
  // Lost sight of the node this round: the next fit verdict needs a proof first.
  const lost = g.kind !== 'sample' || inputs.canaryError !== undefined;
  // A gap makes this round's own sample suspect too, so it needs the proof now.
  const proven = inputs.primaryProof === 'passed' || (!prev.unproven && inputs.gap !== true);
  // What the node says about itself is only believed once it proved it: its own view can be stale.
  const believed = (part: Part): Part =>
    part.state !== 'unhealthy' && !proven ? bad('primary_unproven') : part;
  const galera = side(
    g.kind === 'sample' ? { kind: 'part', part: believed(judgeGalera(g.vars, policy, prev.recvQueue)) } : g,
    prev.galeraTimeouts,
    prev.lastGalera,
    policy.timeoutFall,
    'mariadb',
  );
  const p = inputs.proxysql;
  const proxysql =
    p.kind === 'absent'
      ? undefined
      : side(
          p.kind === 'sample' ? { kind: 'part', part: judgeProxysql(p) } : p,
          prev.proxysqlTimeouts,
          prev.lastProxysql,
          policy.timeoutFall,
          'proxysql',
        );
  const recv = g.kind === 'sample' ? Number(g.vars.wsrep_local_recv_queue) : Number.NaN;
  const state: MachineState = {
    galeraTimeouts: galera.timeouts,
    proxysqlTimeouts: proxysql?.timeouts ?? 0,
    lastGalera: galera.last,
    lastProxysql: proxysql?.last,
    recvQueue: Number.isFinite(recv) ? recv : prev.recvQueue,
    unproven: lost || !proven,
  };
  return { verdict: combine(galera.part, proxysql?.part, inputs), state };
}

function combine(galera: Part, proxysql: Part | undefined, inputs: Inputs): Verdict {
  const down = (reasons: string[]): Verdict => ({
    health: 'unhealthy',
    writer: false,
    reader: false,
    reasons,
  });
  if (galera.state === 'unhealthy') return down(galera.reasons);
  if (proxysql?.state === 'unhealthy') return down(proxysql.reasons);
  if (inputs.canaryError !== undefined) return down(['canary_failed']);
  const notes = [...galera.reasons, ...(proxysql?.reasons ?? [])];
  if (galera.state === 'drained' || inputs.drainRequested) {
    const why = inputs.drainRequested ? ['drain_requested'] : [];
    return { health: 'drained', writer: false, reader: false, reasons: [...why, ...notes] };
  }
  // Notes that are not degradations: the node is as fit as it gets.
  const benign = new Set(['read_only', 'donor']);
  const degraded = notes.some((r) => !benign.has(r) && !r.includes('_timeout_'));
  return {
    health: degraded ? 'degraded' : 'healthy',
    writer: !galera.readOnly,
    reader: true,
    reasons: notes,
  };
}
