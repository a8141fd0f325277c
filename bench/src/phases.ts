/**
 * What keeps a benchmark's measurements when something hiccups. Every load and latency run is
 * journalled here as it finishes (label, figures, attempts), so a benchmark that throws later
 * still leaves what it measured in its results file (runner.ts writes the journal on a crash).
 * A run that met socket errors or whose load process failed is retried: on a shared 2-core
 * machine a few connection resets against a healthy peer are a hiccup of the machine, not a
 * figure of the system (a full origin-router run once lost every figure to 3 socket errors).
 * Retries are never silent: each discarded attempt stays in the journal and in the notes.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** One measurement as journalled: the attempt kept, and those discarded before it. */
export interface PhaseRecord {
  kind: 'load' | 'latency';
  label: string;
  /** Attempts made (1 when the first was clean). */
  attempts: number;
  /** Figures of the attempt kept (the last one), absent when every attempt threw. */
  figures?: Record<string, unknown>;
  /** Why each discarded attempt was discarded, in order. */
  discarded: string[];
  /** The last attempt's exception, when every attempt threw. */
  error?: string;
}

let journal: PhaseRecord[] = [];

/** Starts a fresh journal (runner.ts, before each benchmark) and returns the previous one. */
export function takeJournal(): PhaseRecord[] {
  const out = journal;
  journal = [];
  return out;
}

/** Attempts per measurement: the first and two retries. */
export const ATTEMPTS = 3;

/**
 * Runs `attempt` until it returns a result `hiccup` finds nothing wrong with, at most `attempts`
 * times, pausing `pauseMs` between attempts (the hiccup's cause, a busy core or a full accept
 * queue, usually passes within that). Returns the last result even if it still has the hiccup
 * (the caller's check then reports it), and rethrows when the last attempt threw.
 */
export async function withRetry<T extends object>(
  kind: PhaseRecord['kind'],
  label: string,
  attempt: () => Promise<T>,
  hiccup: (result: T) => string | undefined,
  { attempts = ATTEMPTS, pauseMs = 1000 } = {},
): Promise<T> {
  const record: PhaseRecord = { kind, label, attempts: 0, discarded: [] };
  journal.push(record);
  for (;;) {
    record.attempts++;
    let result: T;
    try {
      result = await attempt();
    } catch (err) {
      const message = (err as Error).message.split('\n')[0] ?? String(err);
      if (record.attempts >= attempts) {
        record.error = message;
        throw err;
      }
      record.discarded.push(`threw: ${message}`);
      await sleep(pauseMs);
      continue;
    }
    const problem = hiccup(result);
    if (!problem || record.attempts >= attempts) {
      record.figures = { ...result } as Record<string, unknown>;
      return result;
    }
    record.discarded.push(problem);
    await sleep(pauseMs);
  }
}

/** One note per retried measurement, for the results file. */
export function retryNotes(records: PhaseRecord[]): string[] {
  return records
    .filter((r) => r.discarded.length > 0)
    .map(
      (r) =>
        `${r.kind} ${r.label}: ${r.attempts} attempts, discarded: ${r.discarded.join('; ')}${r.error ? `; last threw: ${r.error}` : ''}`,
    );
}
