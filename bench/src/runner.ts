/**
 * Runs one benchmark and always writes what it measured to `<resultsDir>/<name>.json`: the
 * result on success; on a crash, the figures it recorded (`ctx.record`) and every load/latency
 * run it finished (the journal of phases.ts), with `status: "crashed"` and the error. A phase that
 * fails (`ctx.phase`) is reported under `failed` and the other phases' figures are kept.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PhaseRecord, retryNotes, takeJournal } from './phases.ts';
import type { Benchmark, BenchResult, Goal } from './types.ts';

export interface RunOptions {
  quick: boolean;
  dir: string;
  root: string;
  resultsDir: string;
  machine: Record<string, unknown>;
  log(message: string): void;
}

/** What one benchmark left: its file, the result written, and what went wrong. */
export interface RunOutcome {
  file: string;
  status: 'ok' | 'failed' | 'crashed';
  result: BenchResult;
  /** Phases that failed, by name (empty when none did). */
  failed: Record<string, string>;
  error?: Error;
  /** Every load/latency run, with its attempts. */
  journal: PhaseRecord[];
}

export function goalMet(value: number | undefined, goal: Goal): boolean {
  if (value === undefined || Number.isNaN(value)) return false;
  return (goal.min === undefined || value >= goal.min) && (goal.max === undefined || value <= goal.max);
}

export async function runBenchmark(b: Benchmark, o: RunOptions): Promise<RunOutcome> {
  takeJournal();
  const recorded: Record<string, number> = {};
  const failed: Record<string, string> = {};
  let result: BenchResult | undefined;
  let error: Error | undefined;
  try {
    result = await b.run({
      quick: o.quick,
      dir: o.dir,
      root: o.root,
      seconds: o.quick ? 3 : 8,
      log: o.log,
      record: (figures) => Object.assign(recorded, figures),
      phase: async (name, run) => {
        try {
          return await run();
        } catch (err) {
          failed[name] = (err as Error).message;
          o.log(`✗ phase ${name} failed: ${(err as Error).message}`);
          return undefined;
        }
      },
    });
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
  }
  const journal = takeJournal();
  const status = error ? 'crashed' : Object.keys(failed).length ? 'failed' : 'ok';
  const written: BenchResult = {
    figures: { ...recorded, ...result?.figures },
    ratios: result?.ratios ?? {},
    goals: result?.goals ?? {},
    notes: [...(result?.notes ?? []), ...retryNotes(journal)],
  };
  const file = join(o.resultsDir, `${b.name}.json`);
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        name: b.name,
        date: new Date().toISOString(),
        machine: o.machine,
        profile: o.quick ? 'quick' : 'full',
        ...(status === 'ok' ? {} : { status }),
        ...(error ? { error: error.message } : {}),
        ...(Object.keys(failed).length ? { failed } : {}),
        figures: written.figures,
        ratios: written.ratios,
        goals: written.goals,
        notes: written.notes,
        // On a crash the journal is the only record of what was measured before it.
        ...(error ? { measured: journal } : {}),
      },
      null,
      2,
    )}\n`,
  );
  return { file, status, result: written, failed, journal, ...(error ? { error } : {}) };
}
