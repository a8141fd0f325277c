import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { withRetry } from './phases.ts';

const run = promisify(execFile);
const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

export interface LoadOptions {
  url: string;
  connections?: number;
  seconds: number;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Fixed total rate (requests/s) instead of as fast as possible. */
  rate?: number;
  /** Seconds of warm-up at the same settings, not counted. */
  warmupSeconds?: number;
}

export interface LoadFigures {
  rps: number;
  p50: number;
  p99: number;
  /** Requests that failed at the socket level, plus timeouts. */
  errors: number;
  /** Responses with a status outside 2xx. */
  non2xx: number;
  total: number;
  bytesPerSec: number;
  /** Responses by status code. */
  statusCodes: Record<string, number>;
}

/** How a measurement is named in the journal and in retry notes. */
export function loadLabel(opts: {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  rate?: number;
}): string {
  const host = opts.headers?.host ?? opts.headers?.Host;
  return `${opts.method ?? 'GET'} ${opts.url}${host ? ` (host ${host})` : ''}${opts.rate ? ` at ${opts.rate}/s` : ''}`;
}

/**
 * Runs autocannon in its own process (so the load generator never shares an event loop with
 * anything it measures) and returns its figures. A run with socket errors or timeouts, or whose
 * process failed, is run again (phases.ts): the figures returned are the last attempt's, and the
 * journal keeps why the others were discarded. Non-2xx answers are the system's and never retried.
 */
export function measure(opts: LoadOptions): Promise<LoadFigures> {
  return withRetry(
    'load',
    loadLabel(opts),
    () => measureOnce(opts),
    (f) =>
      f.errors > 0 ? `${f.errors} socket errors/timeouts in ${f.total + f.errors} requests` : undefined,
  );
}

async function measureOnce(opts: LoadOptions): Promise<LoadFigures> {
  const args = [AUTOCANNON, '-j', '-n', '-c', String(opts.connections ?? 50), '-d', String(opts.seconds)];
  if (opts.method) args.push('-m', opts.method);
  if (opts.body !== undefined) args.push('-b', opts.body);
  if (opts.rate) args.push('-R', String(opts.rate));
  if (opts.warmupSeconds) args.push('-W', `[-c ${opts.connections ?? 50} -d ${opts.warmupSeconds}]`);
  for (const [k, v] of Object.entries(opts.headers ?? {})) args.push('-H', `${k}=${v}`);
  args.push(opts.url);
  const { stdout } = await run(process.execPath, args, {
    maxBuffer: 64 * 1024 * 1024,
    timeout: (opts.seconds + (opts.warmupSeconds ?? 0) + 60) * 1000,
  });
  // With a warm-up, autocannon prints one JSON document per phase: the last is the measured one.
  const lines = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'));
  const r = JSON.parse(lines[lines.length - 1] ?? '{}');
  const statusCodes = Object.fromEntries(
    Object.entries((r.statusCodeStats ?? {}) as Record<string, { count: number }>).map(([k, v]) => [
      k,
      v.count,
    ]),
  );
  return {
    statusCodes,
    rps: Math.round(r.requests.average),
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    total: r.requests.total,
    bytesPerSec: Math.round(r.throughput.average),
  };
}

/** a / b rounded to 3 decimals (0 when b is 0). */
export function ratio(a: number, b: number): number {
  return b === 0 ? 0 : Math.round((a / b) * 1000) / 1000;
}
