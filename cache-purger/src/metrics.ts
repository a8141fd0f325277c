import type { ConnectionCounts } from '@wpfarm/common/http-limits';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { KEYS, type Queue } from './queue.ts';

/** The purger's Prometheus metrics; queue depth and oldest age are read from Redis on each scrape. */
export interface PurgerMetrics {
  registry: Registry;
  webhooks: Counter<'code'>;
  requests: Counter<'node' | 'kind' | 'result'>;
  retries: Counter<'node'>;
  failures: Counter<'node'>;
  skipped: Counter<'node'>;
  latency: Histogram<'node'>;
  edge: Counter<'target' | 'result'>;
  /**
   * Purges delivered wider than the URLs and tags they hold (a whole-host Varnish ban, a whole-site
   * edge or Cloudflare purge), by target and reason (plan.ts `ReportedEscalation`).
   */
  escalations: Counter<'target' | 'reason'>;
  /** Exports the HTTP server's open and refused connection counts. */
  watchConnections(counts: ConnectionCounts): void;
}

/** Builds the metrics; `queue` and `nodes` feed the per-node backlog gauges at scrape time. */
export function createMetrics(queue: Queue | undefined, nodes: string[]): PurgerMetrics {
  const registry = new Registry();
  const backlog = async () => {
    const out: { node: string; depth: number; oldestMs: number }[] = [];
    if (!queue) return out;
    for (const node of nodes) out.push({ node, ...(await queue.backlog(KEYS.jobs, KEYS.group(node))) });
    // The edge targets read `purge:edge` through a group each: an operator sees Cloudflare fall
    // behind (its bucket empty) while the edge worker keeps up.
    out.push({ node: 'edge-worker', ...(await queue.backlog(KEYS.edge, KEYS.edgeGroup)) });
    out.push({ node: 'cloudflare', ...(await queue.backlog(KEYS.edge, KEYS.cloudflareGroup)) });
    return out;
  };
  let last: Promise<{ node: string; depth: number; oldestMs: number }[]> | undefined;
  // Both gauges read the same snapshot, taken once per scrape.
  const snapshot = () => {
    last ??= backlog()
      .catch(() => [])
      .finally(() => setTimeout(() => (last = undefined), 100).unref());
    return last;
  };
  new Gauge({
    name: 'purger_queue_depth',
    help: 'Jobs not yet acknowledged by a Varnish node (or edge-worker, cloudflare): pending plus not yet delivered.',
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      for (const b of await snapshot()) this.set({ node: b.node }, b.depth);
    },
  });
  new Gauge({
    name: 'purger_oldest_pending_seconds',
    help: 'Age of the oldest job a Varnish node (or edge-worker, cloudflare) has not acknowledged.',
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      for (const b of await snapshot()) this.set({ node: b.node }, b.oldestMs / 1000);
    },
  });
  let connections: ConnectionCounts | undefined;
  new Gauge({
    name: 'purger_connections_open',
    help: 'Client connections open on the HTTP server now.',
    registers: [registry],
    collect() {
      this.set(connections?.open() ?? 0);
    },
  });
  new Counter({
    name: 'purger_connections_refused_total',
    help: 'Client connections closed on accept because PURGER_MAX_CONNECTIONS were open.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(connections?.refused() ?? 0);
    },
  });
  return {
    registry,
    watchConnections(counts) {
      connections = counts;
    },
    escalations: new Counter({
      name: 'purger_escalations_total',
      help: 'Purges delivered wider than their URLs and tags (whole-host ban, whole-site edge or Cloudflare purge), by target and reason.',
      labelNames: ['target', 'reason'],
      registers: [registry],
    }),
    webhooks: new Counter({
      name: 'purger_webhooks_total',
      help: 'Webhooks answered, by error code (or accepted).',
      labelNames: ['code'],
      registers: [registry],
    }),
    requests: new Counter({
      name: 'purger_varnish_requests_total',
      help: 'BAN/PURGE requests sent to Varnish nodes.',
      labelNames: ['node', 'kind', 'result'],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'purger_retries_total',
      help: 'Delivery rounds retried after a failure, per node.',
      labelNames: ['node'],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'purger_failures_total',
      help: 'BAN/PURGE requests that did not get a 200, per node.',
      labelNames: ['node'],
      registers: [registry],
    }),
    skipped: new Counter({
      name: 'purger_skipped_total',
      help: 'Jobs skipped because the node restarted after they were accepted (its cache was empty).',
      labelNames: ['node'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'purger_purge_latency_seconds',
      help: 'From webhook accepted to acknowledged by the node (or edge-worker, cloudflare).',
      labelNames: ['node'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    edge: new Counter({
      name: 'purger_edge_requests_total',
      help: 'Edge purge calls, by target (edge-worker, cloudflare) and result.',
      labelNames: ['target', 'result'],
      registers: [registry],
    }),
  };
}
