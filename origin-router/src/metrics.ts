/**
 * The router's Prometheus metrics (prom-client), served on their own port. Per-request counts
 * are kept in plain numbers and handed to prom-client only at scrape time, so the request path
 * pays a property increment rather than a label-hash lookup.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
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
}

const CACHE_VALUES = new Set(['HIT', 'MISS', 'SYNTH', 'none']);

/** Creates the metric set for one role. */
export function createMetrics(role: 'front' | 'back'): RouterMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry }); // RSS, heap, event-loop lag, GC
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
  const upstreamSeconds = new Histogram({
    name: 'router_upstream_duration_seconds',
    help: 'Time from dispatch to the upstream response (headers, or failure).',
    labelNames: ['target', 'cache'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const children = new Map<string, { observe(v: number): void }>();
  return {
    registry,
    inflight,
    request(siteClass, status) {
      const k = `${siteClass} ${status}`;
      pending.set(k, (pending.get(k) ?? 0) + 1);
    },
    upstream(target, cache, seconds) {
      // Bound label children are cached: prom-client hashes (and sorts) label objects per call.
      const k = `${target} ${cache}`;
      let child = children.get(k);
      if (child === undefined) {
        child = upstreamSeconds.labels({ target, cache: CACHE_VALUES.has(cache) ? cache : 'other' });
        children.set(k, child);
      }
      child.observe(seconds);
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
