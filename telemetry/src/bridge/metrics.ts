/** The bridge's Prometheus metrics (prom-client), one registry per bridge instance. */

import type { ConnectionCounts } from '@wpfarm/common/http-limits';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SpanQueue } from './queue.ts';

export interface BridgeMetrics {
  registry: Registry;
  requests: Counter<'code'>;
  received: Counter;
  exported: Counter;
  dropped: Counter<'reason'>;
  retried: Counter;
  exportSeconds: Histogram;
  /** Exports the server's open and refused connection counts. */
  watchConnections(counts: ConnectionCounts): void;
}

export function createBridgeMetrics(queue: SpanQueue): BridgeMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: 'bridge_queue_spans',
    help: 'Spans accepted and not yet delivered (queued or in flight).',
    registers,
    collect() {
      this.set(queue.spans);
    },
  });
  new Gauge({
    name: 'bridge_queue_bytes',
    help: 'Encoded bytes accepted and not yet delivered.',
    registers,
    collect() {
      this.set(queue.bytes);
    },
  });
  new Gauge({
    name: 'bridge_queue_limit_spans',
    help: 'Queue capacity in spans (429 beyond it).',
    registers,
    collect() {
      this.set(queue.limits.maxSpans);
    },
  });
  return {
    registry,
    requests: new Counter({
      name: 'bridge_requests_total',
      help: 'POST /v1/traces answers by status code.',
      labelNames: ['code'],
      registers,
    }),
    received: new Counter({
      name: 'bridge_spans_received_total',
      help: 'Spans accepted into the queue (acknowledged to the sender).',
      registers,
    }),
    exported: new Counter({
      name: 'bridge_spans_exported_total',
      help: 'Spans the collector acknowledged.',
      registers,
    }),
    dropped: new Counter({
      name: 'bridge_spans_dropped_total',
      help: 'Spans lost: queue_full (parsed, then refused with 429), rejected or refused by the collector, retry_expired, shutdown.',
      labelNames: ['reason'],
      registers,
    }),
    retried: new Counter({
      name: 'bridge_spans_retried_total',
      help: 'Spans sent again after a retryable export failure.',
      registers,
    }),
    exportSeconds: new Histogram({
      name: 'bridge_export_duration_seconds',
      help: 'Time of one export call to the collector.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    watchConnections(counts) {
      new Gauge({
        name: 'bridge_connections_open',
        help: 'Client connections open now.',
        registers,
        collect() {
          this.set(counts.open());
        },
      });
      new Counter({
        name: 'bridge_connections_refused_total',
        help: 'Client connections closed on accept because BRIDGE_MAX_CONNECTIONS were open.',
        registers,
        collect() {
          this.reset();
          this.inc(counts.refused());
        },
      });
    },
  };
}
