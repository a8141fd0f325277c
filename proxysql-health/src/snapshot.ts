/**
 * The probe answers, rendered once per evaluation so a probe costs a string concatenation: the
 * HTTP path never touches the database, so a hung MariaDB can never hang a probe. Pure.
 */
import type { Verdict } from './verdict.ts';

export type Endpoint = 'health' | 'writer' | 'reader';

/** One evaluation's answers, ready to send. */
export interface Rendered {
  at: number;
  verdict: Verdict;
  status: Record<Endpoint, 200 | 503>;
  /** JSON up to the age field: the age is the only part that changes between probes. */
  prefix: Record<Endpoint, string>;
}

const ENDPOINTS: Endpoint[] = ['health', 'writer', 'reader'];

function fit(v: Verdict, e: Endpoint): boolean {
  if (e === 'writer') return v.writer;
  if (e === 'reader') return v.reader;
  return v.health === 'healthy' || v.health === 'degraded';
}

/** Renders a verdict taken at `at` (ms since epoch). */
export function render(verdict: Verdict, at: number): Rendered {
  const status = {} as Record<Endpoint, 200 | 503>;
  const prefix = {} as Record<Endpoint, string>;
  for (const e of ENDPOINTS) {
    const ok = fit(verdict, e);
    status[e] = ok ? 200 : 503;
    prefix[e] =
      `{"endpoint":"${e}","ok":${ok},"verdict":"${verdict.health}","reasons":${JSON.stringify(verdict.reasons)},"age_ms":`;
  }
  return { at, verdict, status, prefix };
}

/**
 * The answer for one probe: 503 before the first evaluation and whenever the snapshot is older
 * than `staleMs` (the evaluation loop is stuck: fail closed), else the rendered verdict.
 */
export function answer(
  r: Rendered | undefined,
  e: Endpoint,
  now: number,
  staleMs: number,
): { status: 200 | 503; body: string } {
  if (!r)
    return {
      status: 503,
      body: `{"endpoint":"${e}","ok":false,"verdict":"starting","reasons":["no_evaluation_yet"],"age_ms":null}`,
    };
  const age = Math.max(0, now - r.at);
  if (age > staleMs)
    return {
      status: 503,
      body: `{"endpoint":"${e}","ok":false,"verdict":"stale","reasons":["snapshot_stale"],"age_ms":${age}}`,
    };
  return { status: r.status[e], body: `${r.prefix[e]}${age}}` };
}
