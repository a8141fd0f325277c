import { writeFileSync } from 'node:fs';
import { signBody } from '@wpfarm/common/contracts/signing';
import { Pool } from 'undici';

/**
 * Load generator for the purger benchmark (bench/src/benches/cache-purger.ts), run as its own
 * process. autocannon repeats one request, but every webhook needs its own nonce and signature,
 * so this signs each one. Modes: `webhook` (signed POST /v1/purge, one unique tag each, or with
 * `urlHost` one unique URL each: the single-URL webhooks of issue 16's backlog scenarios) or
 * `varnish` (the baseline: the same tag purge sent straight to one Varnish node).
 * Closed loop (as fast as `connections` allow) or open loop at `rate` per second.
 * Argument: one JSON object (LoadSpec). Prints one JSON line (LoadResult).
 */
interface LoadSpec {
  mode: 'webhook' | 'varnish';
  url: string;
  seconds: number;
  connections: number;
  rate?: number;
  site: string;
  secret: string;
  purgeSecret?: string;
  /** Tags are `${site}-${tagPrefix}${n}`. */
  tagPrefix: string;
  /** Write `tag sendStartMs` lines here (open loop), for the applied-latency join. */
  sendsFile?: string;
  /** Webhooks carry one URL, `http://<urlHost>/<tagPrefix><n>/`, instead of one tag. */
  urlHost?: string;
  /** Stop after this many webhooks (whichever comes first with `seconds`). */
  count?: number;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as LoadSpec;
const pool = new Pool(spec.url, { connections: spec.connections, pipelining: 1, keepAliveTimeout: 30_000 });
const latencies: number[] = [];
const sends: string[] = [];
let n = 0;
let ok = 0;
let non2xx = 0;
let errors = 0;

async function one(): Promise<void> {
  const i = n++;
  const tag = `${spec.site}-${spec.tagPrefix}${i}`;
  const t0 = performance.now();
  if (spec.sendsFile) sends.push(`${tag} ${(performance.timeOrigin + t0).toFixed(3)}`);
  try {
    let res: Awaited<ReturnType<Pool['request']>>;
    if (spec.mode === 'webhook') {
      const body = spec.urlHost
        ? `{"site":"${spec.site}","urls":["http://${spec.urlHost}/${spec.tagPrefix}${i}/"]}`
        : `{"site":"${spec.site}","tags":["${tag}"]}`;
      res = await pool.request({
        method: 'POST',
        path: '/v1/purge',
        headers: { 'content-type': 'application/json', ...signBody(spec.secret, body) },
        body,
        headersTimeout: 10_000,
      });
    } else {
      res = await pool.request({
        method: 'PURGE',
        path: '/',
        headers: { 'x-purge-secret': spec.purgeSecret ?? '', 'xkey-purge': tag },
        headersTimeout: 10_000,
      });
    }
    await res.body.dump();
    latencies.push(performance.now() - t0);
    if (res.statusCode === 202 || res.statusCode === 200) ok++;
    else non2xx++;
  } catch {
    errors++;
  }
}

const start = performance.now();
const end = start + spec.seconds * 1000;
const more = () => performance.now() < end && (spec.count === undefined || n < spec.count);
if (spec.rate) {
  // Open loop: a fixed schedule, independent of how fast answers come (no coordinated omission).
  const inflight = new Set<Promise<void>>();
  let due = 0;
  while (more()) {
    const shouldHave = Math.floor(((performance.now() - start) / 1000) * spec.rate);
    for (; due < shouldHave && more(); due++) {
      const p = one().finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inflight);
} else {
  await Promise.all(
    Array.from({ length: spec.connections }, async () => {
      while (more()) await one();
    }),
  );
}
const elapsed = (performance.now() - start) / 1000;
await pool.close();
if (spec.sendsFile) writeFileSync(spec.sendsFile, `${sends.join('\n')}\n`);
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  Math.round((latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0) * 100) / 100;
console.log(
  JSON.stringify({
    sent: n,
    ok,
    non2xx,
    errors,
    rps: Math.round(ok / elapsed),
    p50: pct(0.5),
    p99: pct(0.99),
  }),
);
