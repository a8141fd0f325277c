/**
 * Prometheus metrics (prom-client). Probe counts are plain numbers handed to prom-client at
 * scrape time, so a probe pays a map increment rather than a label-hash lookup.
 */
import type { ConnectionCounts } from '@wpfarm/common/http-limits';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Evaluation } from './checker.ts';
import type { Endpoint } from './snapshot.ts';

export interface HealthMetrics {
  registry: Registry;
  probe(endpoint: Endpoint, status: number): void;
  evaluation(e: Evaluation): void;
  failure(target: string, kind: string): void;
  /** Exports the server's open and refused connection counts. */
  watchConnections(counts: ConnectionCounts): void;
}

const HEALTHS = ['healthy', 'degraded', 'drained', 'unhealthy'] as const;

/** Creates the metric set; `current()` gives the latest evaluation at scrape time. */
export function createMetrics(
  current: () => Evaluation | undefined,
  now: () => number = Date.now,
): HealthMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const probes = new Map<string, number>();
  new Counter({
    name: 'health_probes_total',
    help: 'Probes answered, by endpoint and status.',
    labelNames: ['endpoint', 'status'],
    registers: [registry],
    collect() {
      for (const [k, n] of probes) {
        const [endpoint = '', status = ''] = k.split(' ');
        this.inc({ endpoint, status }, n);
      }
      probes.clear();
    },
  });
  new Gauge({
    name: 'health_state',
    help: '1 for the current verdict (healthy, degraded, drained, unhealthy).',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const h = current()?.verdict.health;
      for (const s of HEALTHS) this.set({ state: s }, h === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'health_fit',
    help: '1 when the role endpoint answers 200 (snapshot age not considered).',
    labelNames: ['role'],
    registers: [registry],
    collect() {
      const v = current()?.verdict;
      this.set({ role: 'writer' }, v?.writer ? 1 : 0);
      this.set({ role: 'reader' }, v?.reader ? 1 : 0);
    },
  });
  new Gauge({
    name: 'health_snapshot_age_seconds',
    help: 'Age of the last evaluation (-1 before the first).',
    registers: [registry],
    collect() {
      const e = current();
      this.set(e ? (now() - e.at) / 1000 : -1);
    },
  });
  const evaluations = new Counter({
    name: 'health_evaluations_total',
    help: 'Evaluations by resulting state.',
    labelNames: ['state'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'health_evaluation_duration_seconds',
    help: 'Time one evaluation round took (queries included).',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'health_query_failures_total',
    help: 'Failed queries by target (mariadb, proof, proxysql, canary) and kind (timeout, error).',
    labelNames: ['target', 'kind'],
    registers: [registry],
  });
  return {
    registry,
    probe(endpoint, status) {
      const k = `${endpoint} ${status}`;
      probes.set(k, (probes.get(k) ?? 0) + 1);
    },
    evaluation(e) {
      evaluations.inc({ state: e.verdict.health });
      duration.observe(e.durationMs / 1000);
    },
    failure(target, kind) {
      failures.inc({ target, kind });
    },
    watchConnections(counts) {
      new Gauge({
        name: 'health_connections_open',
        help: 'Client connections open now.',
        registers: [registry],
        collect() {
          this.set(counts.open());
        },
      });
      new Counter({
        name: 'health_connections_refused_total',
        help: 'Client connections closed on accept because HEALTH_MAX_CONNECTIONS were open.',
        registers: [registry],
        collect() {
          this.reset();
          this.inc(counts.refused());
        },
      });
    },
  };
}
