/**
 * Rendezvous (highest-random-weight) hashing of a key (the site's host) over cache nodes. Each
 * key ranks every node by a per-(key, node) score; the key goes to the best available node, and
 * when that node leaves only its keys move (to their second choice). Pure and allocation-light:
 * the ranking of a key is computed once and cached by the caller.
 */

/** A node as the hash sees it: a stable id (not its address) and an optional weight. */
export interface HrwNode {
  id: string;
  /** Relative capacity; 1 when omitted. A node with weight 2 takes about twice the keys. */
  weight?: number;
}

/** 32-bit FNV-1a over UTF-16 code units, finished with murmur3's avalanche. */
export function hash32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** murmur3's finaliser: every input bit flips about half of the output bits. */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The score of `node` for a key: weighted HRW (-w / ln u, u uniform in (0, 1)), which keeps the
 * minimal-disruption property and gives each node a share proportional to its weight.
 */
export function score(keyHash: number, nodeHash: number, weight = 1): number {
  const u = (fmix32((keyHash ^ Math.imul(nodeHash, 0x9e3779b1)) >>> 0) + 0.5) / 4294967296;
  return -weight / Math.log(u);
}

/**
 * Indices of `nodes` ordered best first for `key`.
 * @example rank('alpha.farm.test', [{ id: 'varnish-1' }, { id: 'varnish-2' }]) // [1, 0]
 */
export function rank(key: string, nodes: readonly HrwNode[]): number[] {
  const kh = hash32(key);
  const scored = nodes.map((n, i) => ({ i, s: score(kh, hash32(n.id), n.weight ?? 1) }));
  scored.sort((a, b) => b.s - a.s || a.i - b.i);
  return scored.map((x) => x.i);
}

/** The best node index for `key` among those for which `available(i)` is true, or -1. */
export function pick(order: readonly number[], available: (i: number) => boolean): number {
  for (const i of order) if (available(i)) return i;
  return -1;
}
