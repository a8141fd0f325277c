/**
 * The benchmark's baseline workers, run by serve.ts in the same workerd as the edge worker:
 * `floor` only answers from `caches.default` (filling it once from the origin), `passthrough`
 * only forwards to ORIGIN_URL. Our worker is measured against them on HIT and MISS. `fetchput`
 * forwards and stores every response with `caches.default.put`: it shows how much of a MISS is
 * the local Cache API write rather than the worker's own logic.
 */
export type Variant = 'edge' | 'floor' | 'passthrough' | 'fetchput';

const floor = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const key = 'https://floor.invalid' + url.pathname + url.search;
    const hit = await caches.default.match(key);
    if (hit) return hit;
    const res = await fetch(env.ORIGIN_URL + url.pathname + url.search, { headers: { 'x-edge-host': url.hostname } });
    const out = new Response(res.body, res);
    out.headers.set('cache-control', 'public, max-age=3600');
    ctx.waitUntil(caches.default.put(key, out.clone()));
    return out;
  },
};`;

const passthrough = `export default {
  fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN_URL + url.pathname + url.search, { headers: request.headers, redirect: 'manual' });
  },
};`;

const fetchput = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    const res = await fetch(env.ORIGIN_URL + url.pathname + url.search, { headers: request.headers, redirect: 'manual' });
    const out = new Response(res.body, res);
    out.headers.set('cache-control', 'public, max-age=60');
    ctx.waitUntil(caches.default.put('https://fetchput.invalid' + url.pathname + url.search, out.clone()));
    return out;
  },
};`;

/** Script sources by variant (the edge variant runs the real bundle instead). */
export const BASELINE_WORKERS: Record<Exclude<Variant, 'edge'>, string> = { floor, passthrough, fetchput };
