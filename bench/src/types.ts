/**
 * The benchmark contract. Each `bench/src/benches/<name>.ts` default-exports a `Benchmark`;
 * `npm run bench -- [--quick] [name ...]` runs them and writes `bench/results/<name>.json`:
 * `{ name, date, machine, figures, ratios, goals }`, each goal naming a figure or ratio key.
 */
export interface Goal {
  min?: number;
  max?: number;
}

export interface BenchResult {
  figures: Record<string, number>;
  ratios: Record<string, number>;
  goals: Record<string, Goal>;
  /** Free-form notes printed under the table (what was compared, caveats). */
  notes?: string[];
}

export interface BenchContext {
  /** Short profile for CI: fewer seconds per target, same comparisons. */
  quick: boolean;
  /** A scratch folder for this benchmark's processes (logs, data), removed afterwards unless kept. */
  dir: string;
  /** Repository root. */
  root: string;
  /** Seconds each load phase should last (quick: 2–3, full: 6–10). */
  seconds: number;
  /** Progress line on the console. */
  log(message: string): void;
  /**
   * Keeps figures as soon as they are measured: written to the results file even if the
   * benchmark throws later (the returned result's figures win on success).
   */
  record(figures: Record<string, number>): void;
  /**
   * Runs one phase: when it throws, the failure is reported as that phase's (results file
   * `failed`, the run's exit status) and the benchmark goes on with its other phases.
   * @returns the phase's value, or undefined when it failed.
   */
  phase<T>(name: string, run: () => Promise<T>): Promise<T | undefined>;
}

export interface Benchmark {
  name: string;
  /** One line: what is measured against what. */
  description: string;
  run(ctx: BenchContext): Promise<BenchResult>;
}
