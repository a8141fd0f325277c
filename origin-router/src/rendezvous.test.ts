import { describe, expect, it } from 'vitest';
import { hash32, pick, rank } from './rendezvous.ts';

const nodes = [{ id: 'varnish-1' }, { id: 'varnish-2' }, { id: 'varnish-3' }];
const hosts = Array.from({ length: 500 }, (_, i) => `site-${i}.farm.example`);

describe('rendezvous hashing', () => {
  it('is deterministic and independent of node order', () => {
    const a = rank('alpha.farm.test', nodes).map((i) => nodes[i]!.id);
    const b = rank('alpha.farm.test', [...nodes].reverse());
    expect(b.map((i) => [...nodes].reverse()[i]!.id)).toEqual(a);
    expect(rank('alpha.farm.test', nodes)).toEqual(rank('alpha.farm.test', nodes));
  });

  it('spreads 500 hosts over 3 nodes within ±10% of even', () => {
    const counts = [0, 0, 0];
    for (const h of hosts) counts[rank(h, nodes)[0]!]!++;
    const even = hosts.length / nodes.length;
    for (const c of counts) expect(Math.abs(c - even) / even).toBeLessThanOrEqual(0.1);
  });

  it('removing one node moves only that node’s hosts', () => {
    const down = 1;
    let moved = 0;
    for (const h of hosts) {
      const order = rank(h, nodes);
      const before = order[0]!;
      const after = pick(order, (i) => i !== down);
      if (before !== down) expect(after).toBe(before);
      else {
        moved++;
        expect(after).toBe(order[1]);
      }
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('adding a node takes hosts only onto the new node', () => {
    const four = [...nodes, { id: 'varnish-4' }];
    for (const h of hosts) {
      const before = rank(h, nodes)[0]!;
      const after = rank(h, four)[0]!;
      if (after !== 3) expect(after).toBe(before);
    }
  });

  it('gives a weight-2 node about twice the hosts', () => {
    const weighted = [{ id: 'a', weight: 2 }, { id: 'b' }, { id: 'c' }];
    const many = Array.from({ length: 4000 }, (_, i) => `h${i}.example`);
    const counts = [0, 0, 0];
    for (const h of many) counts[rank(h, weighted)[0]!]!++;
    const share = counts[0]! / many.length;
    expect(share).toBeGreaterThan(0.45);
    expect(share).toBeLessThan(0.55);
  });

  it('pick returns -1 when no node is available', () => {
    expect(pick([2, 0, 1], () => false)).toBe(-1);
    expect(pick([2, 0, 1], (i) => i !== 2)).toBe(0);
  });

  it('hash32 differs for near-identical keys', () => {
    expect(hash32('a.example')).not.toBe(hash32('b.example'));
  });
});
