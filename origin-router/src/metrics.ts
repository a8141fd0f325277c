/**
 * The router's Prometheus metrics (prom-client), served on their own port. The two per-request
 * metrics are kept in plain numbers and handed to the registry only at scrape time: prom-client
 * builds and hashes a label string on every `inc`/`observe` (with a cached child too): 1.5 µs per
 * request for the two in a micro-benchmark, 0.3 µs this way.
 */

import type { ConnectionCounts } from '@wpfarm/common/http-limits';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { SiteClass } from './site-lookup.ts';

export interface RouterMetrics {
  registry: Registry;
  /** Counts one answered request. */
  request(siteClass: SiteClass, status: number): void;
  /** Seconds from dispatch to the upstream's response headers, by target (node id or `wordpress`) and x-cache. */
  upstream(target: string, cache: string, seconds: number): void;
  retries: Counter<'role' | 'reason'>;
  ejections: Counter<'node'>;
  nodeAvailable: Gauge<'node'>;
  circuitOpened: Counter<'role'>;
  registryReloads: Counter<'result'>;
  registrySites: Gauge;
  clientErrors: Counter<'code'>;
  inflight: { value: number };
  /** Where the open/refused connection counts come from (set once the server exists). */
  connections: { counts: ConnectionCounts | undefined };
}

/** The `cache` label's values; anything else is `other`. */
const CACHE_VALUES = ['HIT', 'MISS', 'SYNTH', 'none', 'other'] as const;

/** Index of `cache` in CACHE_VALUES (`other` for anything not listed). */
function cacheSlot(cache: string): number {
  const i = CACHE_VALUES.indexOf(cache as (typeof CACHE_VALUES)[number]);
  return i === -1 ? CACHE_VALUES.length - 1 : i;
}

interface Series {
  labels: Record<string, string>;
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

/**
 * A histogram in plain arrays, registered with prom-client as a metric object of its own (the
 * registry renders what `get` returns, default labels included).
 */
class PlainHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly buckets: readonly number[];
  private readonly all: Series[] = [];

  constructor(o: { name: string; help: string; buckets: readonly number[] }) {
    this.name = o.name;
    this.help = o.help;
    this.buckets = o.buckets;
  }

  series(labels: Record<string, string>): Series {
    const s: Series = { labels, counts: new Array(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
    this.all.push(s);
    return s;
  }

  observe(s: Series, value: number): void {
    const b = this.buckets;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  get() {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const s of this.all) {
      let acc = 0;
      for (let i = 0; i <= this.buckets.length; i++) {
        acc += s.counts[i]!;
        const le = i < this.buckets.length ? this.buckets[i]! : '+Inf';
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    for (const s of this.all) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** Creates the metric set for one role. */
export function createMetrics(role: 'front' | 'back'): RouterMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry }); // RSS, heap, event-loop lag, GC
  /** Answers not yet handed to the counter, by site class (constant strings) then status. */
  const pending = new Map<SiteClass, Map<number, number>>();
  const inflight = { value: 0 };
  const requests = new Counter({
    name: 'router_requests_total',
    help: 'Requests answered, by site class and status.',
    labelNames: ['site_class', 'status'],
    registers: [registry],
    collect() {
      for (const [siteClass, byStatus] of pending)
        for (const [status, n] of byStatus) this.inc({ site_class: siteClass, status }, n);
      pending.clear();
    },
  });
  void requests;
  new Gauge({
    name: 'router_inflight_requests',
    help: 'Requests being proxied now.',
    registers: [registry],
    collect() {
      this.set(inflight.value);
    },
  });
  const connections: RouterMetrics['connections'] = { counts: undefined };
  new Gauge({
    name: 'router_connections_open',
    help: 'Client connections open now (MAX_CONNECTIONS at most).',
    registers: [registry],
    collect() {
      this.set(connections.counts?.open() ?? 0);
    },
  });
  new Counter({
    name: 'router_connections_refused_total',
    help: 'Client connections closed on accept because MAX_CONNECTIONS were open.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(connections.counts?.refused() ?? 0);
    },
  });
  const upstreamSeconds = new PlainHistogram({
    name: 'router_upstream_duration_seconds',
    help: 'Time from dispatch to the upstream response (headers, or failure).',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  // The registry reads only name, help, type and get(); its type names prom-client's own classes.
  registry.registerMetric(upstreamSeconds as never);
  /** Series by target (node ids and `wordpress`: a handful), by CACHE_VALUES index, made on first use. */
  const byTarget = new Map<string, (Series | undefined)[]>();
  return {
    registry,
    inflight,
    connections,
    request(siteClass, status) {
      let byStatus = pending.get(siteClass);
      if (byStatus === undefined) {
        byStatus = new Map();
        pending.set(siteClass, byStatus);
      }
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    },
    upstream(target, cache, seconds) {
      let forTarget = byTarget.get(target);
      if (forTarget === undefined) {
        forTarget = CACHE_VALUES.map(() => undefined);
        byTarget.set(target, forTarget);
      }
      const slot = cacheSlot(cache);
      let series = forTarget[slot];
      if (series === undefined) {
        series = upstreamSeconds.series({ target, cache: CACHE_VALUES[slot]! });
        forTarget[slot] = series;
      }
      upstreamSeconds.observe(series, seconds);
    },
    retries: new Counter({
      name: 'router_retries_total',
      help: 'Requests retried on the next node.',
      labelNames: ['role', 'reason'],
      registers: [registry],
    }),
    ejections: new Counter({
      name: 'router_node_ejections_total',
      help: 'Passive ejections of a cache node after consecutive failures.',
      labelNames: ['node'],
      registers: [registry],
    }),
    nodeAvailable: new Gauge({
      name: 'router_node_available',
      help: '1 when the cache node takes traffic.',
      labelNames: ['node'],
      registers: [registry],
    }),
    circuitOpened: new Counter({
      name: 'router_circuit_opened_total',
      help: 'Times an upstream circuit opened.',
      labelNames: ['role'],
      registers: [registry],
    }),
    registryReloads: new Counter({
      name: 'router_registry_reloads_total',
      help: 'Registry reloads by result (ok, invalid).',
      labelNames: ['result'],
      registers: [registry],
    }),
    registrySites: new Gauge({
      name: 'router_registry_sites',
      help: 'Sites in the live registry.',
      registers: [registry],
    }),
    clientErrors: new Counter({
      name: 'router_client_errors_total',
      help: 'Connections refused by the HTTP parser or timeouts (400, 408, 431...).',
      labelNames: ['code'],
      registers: [registry],
    }),
  };
}
