import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY,
  evaluate,
  type GaleraObservation,
  INITIAL_STATE,
  type Inputs,
  type MachineState,
  type ProxysqlObservation,
  proofWanted,
  type Verdict,
} from './verdict.ts';

/** A machine whose node already proved it is in the Primary component. */
const PROVEN: MachineState = { ...INITIAL_STATE, unproven: false };

const SYNCED: Record<string, string> = {
  wsrep_local_state: '4',
  wsrep_cluster_status: 'Primary',
  wsrep_ready: 'ON',
  wsrep_connected: 'ON',
  wsrep_desync: 'OFF',
  wsrep_sst_donor_rejects_queries: 'OFF',
  wsrep_reject_queries: 'NONE',
  read_only: 'OFF',
  wsrep_flow_control_paused: '0.000000',
  wsrep_local_recv_queue: '0',
  wsrep_cluster_size: '3',
  threads_connected: '10',
  max_connections: '200',
};

const g = (over: Record<string, string | undefined>): GaleraObservation => {
  const vars: Record<string, string> = { ...SYNCED };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) delete vars[k];
    else vars[k] = v;
  }
  return { kind: 'sample', vars };
};

const PROXY_OK: ProxysqlObservation = {
  kind: 'sample',
  hostgroups: [
    {
      writer_hostgroup: 10,
      backup_writer_hostgroup: 20,
      reader_hostgroup: 30,
      offline_hostgroup: 40,
      active: 1,
    },
  ],
  pool: [
    { hostgroup: 10, srv_host: '10.0.0.1', srv_port: 3306, status: 'ONLINE' },
    { hostgroup: 20, srv_host: '10.0.0.2', srv_port: 3306, status: 'ONLINE' },
    { hostgroup: 30, srv_host: '10.0.0.2', srv_port: 3306, status: 'ONLINE' },
    { hostgroup: 30, srv_host: '10.0.0.3', srv_port: 3306, status: 'ONLINE' },
  ],
  galeraLog: [],
};

const proxy = (
  pool: Partial<Record<string, string>>,
  extra: Partial<ProxysqlObservation> = {},
): ProxysqlObservation => {
  if (PROXY_OK.kind !== 'sample') throw new Error('unreachable');
  return {
    ...PROXY_OK,
    pool: PROXY_OK.pool.map((r) => ({ ...r, status: pool[`${r.hostgroup}:${r.srv_host}`] ?? r.status })),
    ...extra,
  } as ProxysqlObservation;
};

const base: Inputs = {
  galera: g({}),
  proxysql: { kind: 'absent' },
  drainRequested: false,
  canaryError: undefined,
};

type Row = [string, Partial<Inputs>, Pick<Verdict, 'health' | 'writer' | 'reader'>, string | undefined];
const UP = { health: 'healthy', writer: true, reader: true } as const;
const DEGRADED = { health: 'degraded', writer: true, reader: true } as const;
const DOWN = { health: 'unhealthy', writer: false, reader: false } as const;
const DRAINED = { health: 'drained', writer: false, reader: false } as const;

const TABLE: Row[] = [
  ['synced primary', {}, UP, undefined],
  ['query error', { galera: { kind: 'error', message: 'ECONNREFUSED' } }, DOWN, 'mariadb_error'],
  [
    'no wsrep_local_state (not a Galera node)',
    { galera: g({ wsrep_local_state: undefined }) },
    DOWN,
    'wsrep_local_state_missing',
  ],
  ['non-Primary', { galera: g({ wsrep_cluster_status: 'non-Primary' }) }, DOWN, 'cluster_status_non-primary'],
  [
    'non-Primary wins over desync (order)',
    { galera: g({ wsrep_cluster_status: 'non-Primary', wsrep_desync: 'ON' }) },
    DOWN,
    'cluster_status_non-primary',
  ],
  ['wsrep_ready OFF', { galera: g({ wsrep_ready: 'OFF' }) }, DOWN, 'wsrep_ready_off'],
  ['wsrep_connected OFF', { galera: g({ wsrep_connected: 'OFF' }) }, DOWN, 'wsrep_connected_off'],
  ['desync → drained', { galera: g({ wsrep_desync: 'ON' }) }, DRAINED, 'wsrep_desync'],
  ['donor serving queries', { galera: g({ wsrep_local_state: '2' }) }, UP, 'donor'],
  [
    'donor rejecting queries',
    { galera: g({ wsrep_local_state: '2', wsrep_sst_donor_rejects_queries: 'ON' }) },
    DOWN,
    'donor_rejects_queries',
  ],
  ['joining', { galera: g({ wsrep_local_state: '1' }) }, DOWN, 'not_synced_1'],
  ['joined, not yet synced', { galera: g({ wsrep_local_state: '3' }) }, DOWN, 'not_synced_3'],
  [
    'reject_queries ALL → drained',
    { galera: g({ wsrep_reject_queries: 'ALL' }) },
    DRAINED,
    'wsrep_reject_queries',
  ],
  [
    'reject_queries ALL_KILL → drained',
    { galera: g({ wsrep_reject_queries: 'ALL_KILL' }) },
    DRAINED,
    'wsrep_reject_queries',
  ],
  [
    'read_only → reader only',
    { galera: g({ read_only: 'ON' }) },
    { health: 'healthy', writer: false, reader: true },
    'read_only',
  ],
  [
    'flow control paused',
    { galera: g({ wsrep_flow_control_paused: '0.25' }) },
    DEGRADED,
    'flow_control_paused',
  ],
  [
    'cluster size below expected',
    { galera: g({ wsrep_cluster_size: '2' }) },
    DEGRADED,
    'cluster_size_below_expected',
  ],
  ['threads near max_connections', { galera: g({ threads_connected: '170' }) }, DEGRADED, 'connections_high'],
  ['threads at max_connections', { galera: g({ threads_connected: '199' }) }, DOWN, 'connections_saturated'],
  ['canary failed', { canaryError: 'ETIMEDOUT' }, DOWN, 'canary_failed'],
  ['drain requested', { drainRequested: true }, DRAINED, 'drain_requested'],
  [
    'drain wins over degraded',
    { drainRequested: true, galera: g({ wsrep_cluster_size: '1' }) },
    DRAINED,
    'drain_requested',
  ],
  [
    'unhealthy wins over drain',
    { drainRequested: true, galera: g({ wsrep_ready: 'OFF' }) },
    DOWN,
    'wsrep_ready_off',
  ],
  ['proxysql all fine', { proxysql: PROXY_OK }, UP, undefined],
  [
    'proxysql writer SHUNNED',
    { proxysql: proxy({ '10:10.0.0.1': 'SHUNNED' }) },
    DOWN,
    'proxysql_no_online_writer',
  ],
  [
    'proxysql writer OFFLINE_SOFT',
    { proxysql: proxy({ '10:10.0.0.1': 'OFFLINE_SOFT' }) },
    DOWN,
    'proxysql_no_online_writer',
  ],
  [
    'proxysql readers all SHUNNED',
    { proxysql: proxy({ '30:10.0.0.2': 'SHUNNED', '30:10.0.0.3': 'SHUNNED' }) },
    DEGRADED,
    'proxysql_readers_all_shunned',
  ],
  ['proxysql one reader SHUNNED', { proxysql: proxy({ '30:10.0.0.2': 'SHUNNED' }) }, UP, undefined],
  [
    'proxysql no active galera hostgroup',
    { proxysql: proxy({}, { hostgroups: [] }) },
    DOWN,
    'proxysql_no_galera_hostgroup',
  ],
  [
    'proxysql admin unreachable',
    { proxysql: { kind: 'error', message: 'ECONNREFUSED' } },
    DOWN,
    'proxysql_error',
  ],
  [
    'proxysql monitor error on latest check',
    {
      proxysql: proxy(
        {},
        {
          galeraLog: [
            { hostname: '10.0.0.3', port: 3306, time_start_us: 2, error: 'timeout' },
            { hostname: '10.0.0.3', port: 3306, time_start_us: 1, error: null },
          ],
        },
      ),
    },
    DEGRADED,
    'proxysql_monitor_error',
  ],
  [
    'proxysql monitor error already cleared',
    {
      proxysql: proxy(
        {},
        {
          galeraLog: [
            { hostname: '10.0.0.3', port: 3306, time_start_us: 1, error: 'timeout' },
            { hostname: '10.0.0.3', port: 3306, time_start_us: 2, error: null },
          ],
        },
      ),
    },
    UP,
    undefined,
  ],
  [
    'mariadb down beats proxysql fine',
    { galera: { kind: 'error', message: 'x' }, proxysql: PROXY_OK },
    DOWN,
    'mariadb_error',
  ],
];

describe('evaluate: one observation from a healthy start', () => {
  it.each(TABLE)('%s', (_name, over, want, reason) => {
    const { verdict } = evaluate({ ...base, ...over }, PROVEN, DEFAULT_POLICY);
    expect({ health: verdict.health, writer: verdict.writer, reader: verdict.reader }).toEqual(want);
    if (reason) expect(verdict.reasons[0] === reason || verdict.reasons.includes(reason)).toBe(true);
    else expect(verdict.reasons).toEqual([]);
  });
});

/** Runs a sequence of inputs through the machine and returns each verdict's health. */
function run(seq: Partial<Inputs>[], policy = DEFAULT_POLICY, from = PROVEN): Verdict[] {
  let state: MachineState = from;
  return seq.map((over) => {
    const r = evaluate({ ...base, ...over }, state, policy);
    state = r.state;
    return r.verdict;
  });
}

const TIMEOUT: Partial<Inputs> = { galera: { kind: 'timeout', message: 'Query inactivity timeout' } };

describe('evaluate: hysteresis', () => {
  it('one timeout keeps the last verdict, the second in a row is unhealthy', () => {
    const v = run([{}, TIMEOUT, TIMEOUT]);
    expect(v.map((x) => x.health)).toEqual(['healthy', 'healthy', 'unhealthy']);
    expect(v[1]?.reasons).toContain('mariadb_timeout_1_of_2');
    expect(v[2]?.reasons).toEqual(['mariadb_timeout']);
  });

  it('a good sample between timeouts resets the count', () => {
    // After a timeout the checker runs the Primary proof with the next sample.
    const proven: Partial<Inputs> = { primaryProof: 'passed' };
    const v = run([{}, TIMEOUT, proven, TIMEOUT, proven]);
    expect(v.every((x) => x.health === 'healthy')).toBe(true);
  });

  it('timeoutFall 3 needs three in a row', () => {
    const v = run([{}, TIMEOUT, TIMEOUT, TIMEOUT], { ...DEFAULT_POLICY, timeoutFall: 3 });
    expect(v.map((x) => x.health)).toEqual(['healthy', 'healthy', 'healthy', 'unhealthy']);
  });

  it('a timeout before any good sample is unhealthy at once (fail closed)', () => {
    expect(run([TIMEOUT], DEFAULT_POLICY, INITIAL_STATE)[0]?.health).toBe('unhealthy');
  });

  it('a timeout after an unhealthy sample stays unhealthy', () => {
    const v = run([{ galera: g({ wsrep_ready: 'OFF' }) }, TIMEOUT]);
    expect(v.map((x) => x.health)).toEqual(['unhealthy', 'unhealthy']);
  });

  it('definite faults flip at once, and recover at once', () => {
    const v = run([{}, { galera: g({ wsrep_cluster_status: 'non-Primary' }) }, {}]);
    expect(v.map((x) => x.health)).toEqual(['healthy', 'unhealthy', 'healthy']);
  });

  it('proxysql timeouts have their own count', () => {
    const t: Partial<Inputs> = { proxysql: { kind: 'timeout', message: 't' } };
    const v = run([{ proxysql: PROXY_OK }, t, t]);
    expect(v.map((x) => x.health)).toEqual(['healthy', 'healthy', 'unhealthy']);
    expect(v[2]?.reasons).toEqual(['proxysql_timeout']);
  });

  it('a growing receive queue is degraded, a steady one is not', () => {
    const q = (n: string) => ({ galera: g({ wsrep_local_recv_queue: n }) });
    const v = run([q('0'), q('5'), q('9'), q('9')]);
    expect(v.map((x) => x.health)).toEqual(['healthy', 'degraded', 'degraded', 'healthy']);
  });
});

const PROOF_OK: Partial<Inputs> = { primaryProof: 'passed' };
const PROOF_FAILED: Partial<Inputs> = { primaryProof: 'failed' };
const h = (v: Verdict[]) => v.map((x) => x.health);

describe('evaluate: a node re-earns 200 only by proving it is in the Primary component now', () => {
  it('at start, what the node says is not enough: 503 until a proof passes', () => {
    const v = run([{}, PROOF_FAILED, PROOF_OK, {}], DEFAULT_POLICY, INITIAL_STATE);
    expect(h(v)).toEqual(['unhealthy', 'unhealthy', 'healthy', 'healthy']);
    expect(v[0]?.reasons).toEqual(['primary_unproven']);
  });

  // The issue 16 thaw: a SIGSTOPped node times out, then reports its stale Synced/Primary view.
  it('regression: stale Synced/Primary after a freeze is 503 until the proof passes', () => {
    const v = run([{}, TIMEOUT, TIMEOUT, {}, PROOF_FAILED, PROOF_FAILED, PROOF_OK]);
    expect(h(v)).toEqual([
      'healthy',
      'healthy',
      'unhealthy',
      'unhealthy',
      'unhealthy',
      'unhealthy',
      'healthy',
    ]);
    expect(v[3]?.reasons).toEqual(['primary_unproven']);
  });

  it('one tolerated timeout keeps 200, but the next sample must come with a proof', () => {
    expect(h(run([{}, TIMEOUT, PROOF_OK]))).toEqual(['healthy', 'healthy', 'healthy']);
    expect(h(run([{}, TIMEOUT, PROOF_FAILED]))).toEqual(['healthy', 'healthy', 'unhealthy']);
  });

  it('a refused connection (restart) needs a proof too', () => {
    const err: Partial<Inputs> = { galera: { kind: 'error', message: 'ECONNREFUSED' } };
    expect(h(run([{}, err, {}, PROOF_OK]))).toEqual(['healthy', 'unhealthy', 'unhealthy', 'healthy']);
  });

  it('a failed canary needs a proof after it passes again (it is retried every round)', () => {
    const canary: Partial<Inputs> = { canaryError: 'ETIMEDOUT' };
    const v = run([{}, canary, {}, { ...PROOF_OK }, {}]);
    expect(h(v)).toEqual(['healthy', 'unhealthy', 'unhealthy', 'healthy', 'healthy']);
    expect(v[1]?.reasons).toEqual(['canary_failed']);
    expect(v[2]?.reasons).toEqual(['primary_unproven']);
  });

  it('a gap in the rounds (this process frozen) needs a proof in that very round', () => {
    expect(h(run([{}, { gap: true }, {}]))).toEqual(['healthy', 'unhealthy', 'unhealthy']);
    expect(h(run([{}, { gap: true, ...PROOF_OK }, {}]))).toEqual(['healthy', 'healthy', 'healthy']);
  });

  it('a definite fault keeps its own reason while unproven (non-Primary is not "unproven")', () => {
    const v = run([{ galera: g({ wsrep_cluster_status: 'non-Primary' }) }], DEFAULT_POLICY, INITIAL_STATE);
    expect(v[0]?.reasons).toEqual(['cluster_status_non-primary']);
  });

  it('a drained node is 503 either way, and still has to prove itself before 200', () => {
    const v = run([{ galera: g({ wsrep_desync: 'ON' }) }, {}], DEFAULT_POLICY, INITIAL_STATE);
    expect(h(v)).toEqual(['unhealthy', 'unhealthy']);
  });

  it('proofWanted: only while unproven (or after a gap) and the node claims a ready Primary', () => {
    expect(proofWanted(INITIAL_STATE, g({}))).toBe(true);
    expect(proofWanted(PROVEN, g({}))).toBe(false);
    expect(proofWanted(PROVEN, g({}), true)).toBe(true);
    expect(proofWanted(INITIAL_STATE, g({ wsrep_local_state: '2' }))).toBe(true);
    expect(proofWanted(INITIAL_STATE, g({ wsrep_cluster_status: 'non-Primary' }))).toBe(false);
    expect(proofWanted(INITIAL_STATE, g({ wsrep_ready: 'OFF' }))).toBe(false);
    expect(proofWanted(INITIAL_STATE, g({ wsrep_local_state: '1' }))).toBe(false);
    expect(proofWanted(INITIAL_STATE, { kind: 'timeout', message: 't' })).toBe(false);
  });
});
