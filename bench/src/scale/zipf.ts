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
