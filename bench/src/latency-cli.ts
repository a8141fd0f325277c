/**
 * `node bench/src/latency-cli.ts <json options>`: an open-loop latency probe. Sends requests at a
 * fixed rate over at most `connections` keep-alive connections, whatever the answers' pace (a slow
 * target queues work, as real traffic would), and prints one JSON line of latency percentiles in
 * milliseconds with microsecond resolution. Run by `latency.ts` in its own process.
 */
import { Agent, request } from 'node:http';
import type { LatencyFigures, LatencyOptions } from './latency.ts';

const o = JSON.parse(process.argv[2] ?? '{}') as LatencyOptions;
const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
const url = new URL(o.url);
const interval = 1000 / o.rate;
const warmupMs = (o.warmupSeconds ?? 1) * 1000;
const t0 = performance.now();
const end = t0 + warmupMs + o.seconds * 1000;
const latencies: number[] = [];
let errors = 0;
let nonOk = 0;
let outstanding = 0;
let next = t0;

function send(): void {
  // Timed from the call: a request waiting for a free connection is waiting on the target.
  const start = performance.now();
  const counted = start >= t0 + warmupMs;
  outstanding++;
  const req = request(
    { host: url.hostname, port: url.port, path: url.pathname + url.search, headers: o.headers, agent },
    (res) => {
      res.on('data', () => {});
      res.on('end', () => {
        outstanding--;
        if (!counted) return;
        if (res.statusCode !== 200) nonOk++;
        else latencies.push(performance.now() - start);
      });
    },
  );
  req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
  req.on('error', () => {
    outstanding--;
    if (counted) errors++;
  });
  req.end();
}

function tick(): void {
  const now = performance.now();
  while (next <= now && next < end) {
    send();
    next += interval;
  }
  if (next < end) setTimeout(tick, 1);
  else finish();
}

function finish(): void {
  if (outstanding > 0) {
    setTimeout(finish, 5);
    return;
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies.length
      ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 1000) / 1000
      : 0;
  const out: LatencyFigures = {
    ok: latencies.length,
    errors,
    nonOk,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: at(1),
  };
  console.log(JSON.stringify(out));
  agent.destroy();
}

tick();
