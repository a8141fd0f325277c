import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadLabel } from './load.ts';
import { withRetry } from './phases.ts';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('./latency-cli.ts', import.meta.url));

export interface LatencyOptions {
  url: string;
  /** Requests per second, sent on schedule whatever the answers' pace. */
  rate: number;
  /** Most connections open at once (keep-alive). */
  connections: number;
  seconds: number;
  warmupSeconds?: number;
  headers?: Record<string, string>;
}

/** Latency percentiles in milliseconds (microsecond resolution) of the 200 answers. */
export interface LatencyFigures {
  ok: number;
  errors: number;
  /** Answers other than 200. */
  nonOk: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/**
 * Latency at a fixed offered load, measured open-loop in a process of its own (see
 * latency-cli.ts). Where autocannon saturates the target (its p99 is then queueing, and rounded to
 * whole milliseconds), this measures what a proxy adds to a request at a load it can carry.
 */
export function measureLatency(opts: LatencyOptions): Promise<LatencyFigures> {
  // Retried like load.ts's runs: socket errors are a hiccup of the machine; non-200s are not.
  return withRetry(
    'latency',
    loadLabel(opts),
    () => measureLatencyOnce(opts),
    (f) =>
      f.errors > 0
        ? `${f.errors} socket errors/timeouts in ${f.ok + f.nonOk + f.errors} requests`
        : undefined,
  );
}

async function measureLatencyOnce(opts: LatencyOptions): Promise<LatencyFigures> {
  const { stdout } = await run(process.execPath, [CLI, JSON.stringify(opts)], {
    timeout: (opts.seconds + (opts.warmupSeconds ?? 1) + 30) * 1000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as LatencyFigures;
}
