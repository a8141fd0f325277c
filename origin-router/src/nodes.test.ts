import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { CacheNodes } from './nodes.ts';

const events = { ejected: () => {}, availability: () => {} };
let nodes: CacheNodes | undefined;
afterEach(async () => {
  await nodes?.close();
});

function make(extra: Record<string, string> = {}) {
  const config = loadConfig({
    ROUTER_ROLE: 'front',
    REGISTRY_FILE: 'x.yaml',
    // Nothing listens on these ports: the pools connect lazily and these tests never send.
    VARNISH_NODES: 'v1=127.0.0.1:9,v2=127.0.0.1:9,v3=127.0.0.1:9',
    EDGE_AUTH_KEYS: 'k'.repeat(32),
    EJECT_AFTER_FAILURES: '2',
    ...extra,
  });
  nodes = new CacheNodes(config, events);
  return nodes;
}

describe('CacheNodes.choose', () => {
  it('follows the host’s rendezvous order, skipping an excluded node', () => {
    const n = make();
    const order = n.order('alpha.farm.test');
    expect(n.choose(order, -1)).toBe(order[0]);
    expect(n.choose(order, order[0]!)).toBe(order[1]);
  });

  it('skips a passively ejected node, and tries it anyway when every node is out (panic mode)', () => {
    const n = make();
    const order = n.order('alpha.farm.test');
    for (const i of [0, 1]) {
      n.begin(order[i]!);
      n.end(order[i]!, false);
      n.begin(order[i]!);
      n.end(order[i]!, false);
    }
    expect(n.choose(order, -1)).toBe(order[2]);
    n.begin(order[2]!);
    n.end(order[2]!, false);
    n.begin(order[2]!);
    n.end(order[2]!, false);
    expect(n.choose(order, -1)).toBe(order[0]);
  });

  it('with bounded load, spills a hot host to its next node once the first carries more than its share', () => {
    const n = make({ BOUNDED_LOAD_FACTOR: '1.25' });
    const order = n.order('hot.farm.test');
    const picks: number[] = [];
    for (let k = 0; k < 12; k++) {
      const i = n.choose(order, -1);
      picks.push(i);
      n.begin(i);
    }
    const first = picks.filter((i) => i === order[0]).length;
    expect(first).toBeLessThan(12);
    expect(first).toBeGreaterThanOrEqual(picks.filter((i) => i === order[1]).length);
    expect(new Set(picks).size).toBeGreaterThan(1);
  });

  it('without bounded load, a hot host stays on its node', () => {
    const n = make();
    const order = n.order('hot.farm.test');
    for (let k = 0; k < 12; k++) {
      const i = n.choose(order, -1);
      expect(i).toBe(order[0]);
      n.begin(i);
    }
  });
});
