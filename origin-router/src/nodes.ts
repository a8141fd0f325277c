/**
 * The front router's cache nodes: one keep-alive upstream pool per Varnish node, its health (active
 * probes + passive ejection, see node-health.ts), its in-flight count (for bounded load), and the
 * rendezvous ranking of each host, computed once per host and cached.
 */

import type { Config, VarnishNode } from './config.ts';
import {
  type HealthOptions,
  type NodeHealth,
  newHealth,
  onProbe,
  onRequest,
  refresh,
} from './node-health.ts';
import { rank } from './rendezvous.ts';
import { requestStatus, UpstreamPool } from './upstream.ts';

export interface CacheNode {
  cfg: VarnishNode;
  origin: string;
  pool: UpstreamPool;
  probePool: UpstreamPool;
  health: NodeHealth;
  inflight: number;
}

export interface NodeEvents {
  ejected(node: CacheNode): void;
  availability(node: CacheNode, available: boolean): void;
}

/** The set of cache nodes the front router shards over. */
export class CacheNodes {
  readonly list: CacheNode[];
  private readonly healthOpts: HealthOptions;
  private readonly probe: Config['front']['probe'];
  private readonly boundedLoad: number;
  private readonly events: NodeEvents;
  private readonly orders = new Map<string, number[]>();
  private probeTimer: NodeJS.Timeout | undefined;
  private totalInflight = 0;

  constructor(config: Config, events: NodeEvents) {
    const u = config.upstream;
    this.healthOpts = {
      fall: config.front.probe.fall,
      rise: config.front.probe.rise,
      ejectAfter: config.front.eject.after,
      ejectMs: config.front.eject.ms,
    };
    this.probe = config.front.probe;
    this.boundedLoad = config.front.boundedLoadFactor;
    this.events = events;
    this.list = config.front.nodes.map((cfg) => {
      const host = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
      const origin = `http://${host}:${cfg.port}`;
      return {
        cfg,
        origin,
        pool: new UpstreamPool(origin, {
          connections: u.connections,
          connectTimeoutMs: u.connectTimeoutMs,
          headersTimeoutMs: u.headersTimeoutMs,
          bodyTimeoutMs: u.bodyTimeoutMs,
        }),
        // Probes use their own connection so they never queue behind busy request sockets.
        probePool: new UpstreamPool(origin, {
          connections: 1,
          connectTimeoutMs: this.probe.timeoutMs,
          headersTimeoutMs: this.probe.timeoutMs,
          bodyTimeoutMs: this.probe.timeoutMs,
        }),
        health: newHealth(),
        inflight: 0,
      };
    });
  }

  /** Node indices best first for `host` (cached; the node list is fixed for the process). */
  order(host: string): number[] {
    let o = this.orders.get(host);
    if (o === undefined) {
      o = rank(
        host,
        this.list.map((n) => ({ id: n.cfg.id, weight: n.cfg.weight })),
      );
      if (this.orders.size > 100_000) this.orders.clear(); // bounded: hosts come from the registry
      this.orders.set(host, o);
    }
    return o;
  }

  /** Forgets cached rankings (after a registry swap, so removed hosts do not linger). */
  clearOrders(): void {
    this.orders.clear();
  }

  /**
   * The node to try for `order`, skipping `exclude` (an index already tried, or -1), unavailable
   * nodes and, with bounded load on, nodes above their share. With every node unavailable it
   * falls back to the hash order ("panic mode"): trying beats refusing when health is unsure.
   */
  choose(order: readonly number[], exclude: number): number {
    const n = this.list.length;
    let bound = Infinity;
    if (this.boundedLoad > 0) {
      let up = 0;
      for (const node of this.list) if (node.health.available) up++;
      bound = Math.ceil((this.boundedLoad * (this.totalInflight + 1)) / Math.max(1, up));
    }
    let firstAvailable = -1;
    for (let k = 0; k < n; k++) {
      const i = order[k]!;
      if (i === exclude) continue;
      const node = this.list[i]!;
      if (!node.health.available) continue;
      if (firstAvailable === -1) firstAvailable = i;
      if (node.inflight < bound) return i;
    }
    if (firstAvailable !== -1) return firstAvailable;
    for (let k = 0; k < n; k++) if (order[k] !== exclude) return order[k]!;
    return -1;
  }

  begin(i: number): void {
    this.list[i]!.inflight++;
    this.totalInflight++;
  }

  /** Ends a request on node `i`; `ok` false counts toward passive ejection. */
  end(i: number, ok: boolean): void {
    const node = this.list[i]!;
    node.inflight--;
    this.totalInflight--;
    const was = node.health.available;
    if (onRequest(node.health, this.healthOpts, ok, Date.now())) {
      this.events.ejected(node);
      // Come back when the ejection ends (active probes may keep it out longer).
      setTimeout(() => this.refreshNode(node), this.healthOpts.ejectMs + 1).unref();
    }
    if (was !== node.health.available) this.events.availability(node, node.health.available);
  }

  private refreshNode(node: CacheNode): void {
    const was = node.health.available;
    refresh(node.health, Date.now());
    if (was !== node.health.available) this.events.availability(node, node.health.available);
  }

  /** Probes every node once now. */
  async probeAll(): Promise<void> {
    await Promise.all(
      this.list.map(async (node) => {
        let ok = false;
        try {
          ok = (await requestStatus(node.probePool, 'GET', this.probe.path)) === 200;
        } catch {
          ok = false;
        }
        const was = node.health.available;
        onProbe(node.health, this.healthOpts, ok, Date.now());
        if (was !== node.health.available) this.events.availability(node, node.health.available);
      }),
    );
  }

  /** Starts periodic probes. */
  start(): void {
    const tick = () => {
      void this.probeAll().finally(() => {
        if (this.probeTimer !== undefined) this.probeTimer = setTimeout(tick, this.probe.intervalMs).unref();
      });
    };
    this.probeTimer = setTimeout(tick, 0).unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
    await Promise.all(this.list.flatMap((n) => [n.pool.close(), n.probePool.close()]));
  }
}
