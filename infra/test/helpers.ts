/**
 * Helpers of the offline infra checks: run a CLI (docker, promtool, amtool, haproxy), read
 * farm.env, and render a stack with `docker stack config` (the Docker client only: it
 * interpolates ${VAR} and validates against the Compose schema without an engine).
 */
import { join, resolve } from 'node:path';

export const INFRA = resolve(import.meta.dirname, '..');
export const ROOT = resolve(INFRA, '..');
export const GENERATED = join(INFRA, 'generated');
export {
  farmEnv,
  type RunResult,
  run,
  type Service,
  STACKS,
  type StackDoc,
  stackConfig,
} from '../src/stack-config.ts';

/** `35s`, `1m30s`, `2m` → milliseconds (Go duration subset used in stack files). */
export function durationMs(d: string | undefined): number {
  if (!d) return 10_000; // Docker's default stop grace period
  let ms = 0;
  for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    ms += Number(n) * ({ ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as Record<string, number>)[unit!]!;
  return ms;
}
