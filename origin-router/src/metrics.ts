/**
 * The router's Prometheus metrics (prom-client), served on their own port. Per-request counts
 * are kept in plain numbers and handed to prom-client only at scrape time, so the request path
 * pays a property increment rather than a label-hash lookup.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SiteClass } from './site-lookup.ts';

export interface RouterMetrics {
  registry: Registry;
  /** Counts one answered request. */
  request(siteClass: SiteClass, status: number): void;
  /** Seconds from dispatch to the upstream's response headers, by target (node id or `wordpress`). */
  upstreamSeconds: Histogram<'role' | 'target' | 'cache'>;
  retries: Counter<'role' | 'reason'>;
  ejections: Counter<'node'>;
  nodeAvailable: Gauge<'node'>;
  circuitOpened: Counter<'role'>;
  registryReloads: Counter<'result'>;
  registrySites: Gauge;
  clientErrors: Counter<'code'>;
  inflight: { value: number };
}

/** Creates the metric set for one role. */
export function createMetrics(role: 'front' | 'back'): RouterMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  const pending = new Map<string, number>();
  const inflight = { value: 0 };
  const requests = new Counter({
    name: 'router_requests_total',
    help: 'Requests answered, by site class and status.',
    labelNames: ['site_class', 'status'],
    registers: [registry],
    collect() {
      for (const [k, n] of pending) {
        const [siteClass = '', status = ''] = k.split(' ');
        this.inc({ site_class: siteClass, status }, n);
      }
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
  return {
    registry,
    inflight,
    request(siteClass, status) {
      const k = `${siteClass} ${status}`;
      pending.set(k, (pending.get(k) ?? 0) + 1);
    },
    upstreamSeconds: new Histogram({
      name: 'router_upstream_duration_seconds',
      help: 'Time from dispatch to the upstream response headers.',
      labelNames: ['role', 'target', 'cache'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
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
