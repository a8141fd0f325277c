/**
 * A Zipf sampler: rank k (0-based) of n drawn with probability ∝ 1/(k+1)^s. Page popularity on
 * the web follows Zipf with s near 1 (Breslau et al., "Web Caching and Zipf-like Distributions",
 * INFOCOM 1999: s between 0.64 and 0.83 for proxy traces; sites by traffic are steeper). Seeded,
 * so a run is reproducible.
 */
export function zipfSampler(n: number, s: number, seed = 1): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) {
    sum += 1 / (k + 1) ** s;
    cdf[k] = sum;
  }
  let state = seed >>> 0 || 1;
  // xorshift32: enough for sampling, and the same sequence everywhere.
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/**
 * Steady-state hit rate of a TTL cache (Varnish with `htmlTtl`) under independent Zipf requests:
 * `sites` sites (exponent sSites) × `pages` pages each (sPages), `rps` requests per second in all.
 * A page requested at λ/s misses once per TTL and hits λ·ttl times in between, so its hit ratio
 * is λ·ttl / (1 + λ·ttl) (the TTL-cache approximation of Fofack et al., "Analysis of TTL-based
 * cache networks", 2012, with Poisson arrivals); the total weighs each page by its traffic.
 */
export function ttlHitRate(
  sites: number,
  pages: number,
  sSites: number,
  sPages: number,
  rps: number,
  ttl: number,
): number {
  const weights = (n: number, s: number) => {
    const w = Float64Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
    const sum = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / sum);
  };
  const ps = weights(sites, sSites);
  const pp = weights(pages, sPages);
  let hit = 0;
  for (const a of ps)
    for (const b of pp) {
      const lt = a * b * rps * ttl;
      hit += a * b * (lt / (1 + lt));
    }
  return hit;
}
