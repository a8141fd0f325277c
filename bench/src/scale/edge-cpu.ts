/**
 * `node --expose-gc bench/src/scale/edge-cpu.ts '{"sites":5000,"layout":"sharded","mode":"cold"}'`:
 * the edge's host routing cost in a V8 isolate of its own (Node's V8, the engine workerd embeds),
 * over a generated registry. Prints one JSON line.
 *
 * - cold: what a new isolate spends before its first answer: decoding the KV value(s) it read,
 *   parsing and indexing them, routing the request. `document`: the whole host map; `sharded`:
 *   the index and the request host's shard (edge-worker/src/host-map.ts). The publish-time work
 *   (building the values) happens before the clock starts; nothing of the parse has run yet.
 * - warm: CPU per request routing hosts drawn by Zipf popularity on an isolate that holds the
 *   whole map (document) or every shard (sharded): host normalisation, shard hash, map lookups;
 *   several sizes in one process, alternating (`sizes`).
 */
import {
  buildHostMapDocument,
  buildHostMapShards,
  type HostMap,
  hostMapShardKey,
  normaliseRequestHost,
  parseHostMap,
  parseHostMapIndex,
  parseHostMapShard,
  routeHost,
  routeHostIn,
  shardOf,
} from '../../../edge-worker/src/host-map.ts';
import { scaleHosts, scaleRegistry, validateScaleRegistry } from './registry.ts';
import { zipfSampler } from './zipf.ts';

const o = JSON.parse(process.argv[2] ?? '{}') as {
  sites: number;
  layout: 'document' | 'sharded';
  mode: 'cold' | 'warm';
  requests?: number;
  /** warm: the sizes to compare in this one process (default: [sites]). */
  sizes?: number[];
};
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

if (o.mode === 'cold') {
  const doc = scaleRegistry(o.sites);
  const registry = validateScaleRegistry(doc);
  const hosts = scaleHosts(doc);
  // KV hands the worker bytes; the worker decodes, parses and indexes them.
  const host = hosts[Math.floor(hosts.length / 2)]!;
  const url = new URL(`https://${host}/2024/05/a-post/`);
  let valueBytes = 0;
  let read: () => HostMap;
  if (o.layout === 'document') {
    const bytes = encoder.encode(JSON.stringify(buildHostMapDocument(registry)));
    valueBytes = bytes.length;
    read = () => parseHostMap(decoder.decode(bytes));
  } else {
    const { index, shards } = buildHostMapShards(registry);
    const indexBytes = encoder.encode(JSON.stringify(index));
    const shardBytes = new Map([...shards].map(([k, v]) => [k, encoder.encode(JSON.stringify(v))]));
    const key = hostMapShardKey('host', index.shards, shardOf(host, index.shards));
    valueBytes = indexBytes.length + (shardBytes.get(key)?.length ?? 0);
    read = () => {
      const i = parseHostMapIndex(decoder.decode(indexBytes));
      const h = normaliseRequestHost(url.host)!;
      return parseHostMapShard(
        decoder.decode(shardBytes.get(hostMapShardKey('host', i.shards, shardOf(h, i.shards)))!),
      );
    };
  }
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const map = read();
  const route = routeHost(map, url);
  const ms = performance.now() - t0;
  gc();
  const heapMb = (process.memoryUsage().heapUsed - heap0) / 1024 / 1024;
  if (route.kind === 'unknown') throw new Error(`cold route of ${url.host} found no site`);
  console.log(JSON.stringify({ ms, valueBytes, heapMb, keep: map.byHost.size }));
} else {
  // Every size's router built in this one process, then timed in alternating passes and the best
  // pass per size kept: the machine is shared, and sizes compared across processes (or minutes)
  // would compare the machine's load, not the map.
  const sizes = o.sizes ?? [o.sites];
  const routers = sizes.map((sites) => {
    const d = scaleRegistry(sites);
    const reg = validateScaleRegistry(d);
    const all = scaleHosts(d);
    let route: (url: URL) => unknown;
    if (o.layout === 'document') {
      const map = parseHostMap(JSON.stringify(buildHostMapDocument(reg)));
      route = (url) => routeHost(map, url);
    } else {
      // Every shard loaded, as on a busy isolate: hash the host to its shard, route in it.
      const { index, shards } = buildHostMapShards(reg);
      const maps = new Map<number, HostMap>();
      for (let i = 0; i < index.shards; i++)
        maps.set(i, parseHostMapShard(JSON.stringify(shards.get(hostMapShardKey('host', index.shards, i)))));
      route = (url) => routeHostIn((h) => maps.get(shardOf(h, index.shards)), url);
    }
    // Requests by Zipf popularity over the farm's hosts (s = 1).
    const next = zipfSampler(all.length, 1, 7);
    const urls = Array.from({ length: 4096 }, () => new URL(`https://${all[next()]}/2024/05/a-post/`));
    return { sites, route, urls, best: Number.POSITIVE_INFINITY };
  });
  const n = o.requests ?? 400_000;
  let sink = 0;
  for (let pass = 0; pass < 7; pass++) {
    for (const r of routers) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) if (r.route(r.urls[i & 4095]!)) sink++;
      r.best = Math.min(r.best, performance.now() - t0);
    }
  }
  console.log(
    JSON.stringify({
      nsPerRequest: Object.fromEntries(routers.map((r) => [r.sites, (r.best * 1e6) / n])),
      sink,
    }),
  );
}
