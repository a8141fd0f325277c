/**
 * Rendering the farm's stacks as Swarm would deploy them: farm.env's deploy-time variables and
 * `docker stack config` (the Docker client only: it interpolates ${VAR}, merges the files and
 * validates against the Compose schema, no engine needed). Used by the offline stack checks and
 * by the local Swarm profile, which derives its one-node stacks from this output.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

export const STACKS = resolve(import.meta.dirname, '../stacks');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; never throws on a non-zero exit (the caller asserts). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return new Promise<RunResult>((done) => {
    execFile(
      cmd,
      args,
      { env: opts.env, cwd: opts.cwd, timeout: 60_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        done({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** The deploy-time variables of infra/stacks/farm.env (KEY=value lines). */
export function farmEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(STACKS, 'farm.env'), 'utf8').split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** A Compose service as `docker stack config` prints it (the fields the checks read). */
export interface Service {
  image?: string;
  environment?: Record<string, string | null>;
  secrets?: { source: string; target?: string }[];
  configs?: { source: string; target?: string }[];
  networks?: Record<string, unknown>;
  volumes?: { type: string; source?: string }[];
  ports?: { mode?: string; published?: number }[];
  healthcheck?: { test?: string[]; disable?: boolean };
  stop_grace_period?: string;
  deploy?: {
    mode?: string;
    replicas?: number;
    endpoint_mode?: string;
    labels?: Record<string, string>;
    placement?: { constraints?: string[] };
    update_config?: { order?: string; failure_action?: string };
    rollback_config?: { order?: string };
    resources?: { limits?: { cpus?: string; memory?: string } };
  };
}

export interface StackDoc {
  services: Record<string, Service>;
  networks?: Record<string, { external?: boolean; driver_opts?: Record<string, string> }>;
  volumes?: Record<string, { driver_opts?: Record<string, string> } | null>;
  secrets?: Record<string, { name?: string; file?: string; external?: boolean; template_driver?: string }>;
  configs?: Record<string, { name?: string; file?: string; external?: boolean; template_driver?: string }>;
}

/** Renders stack files (later files override earlier ones) with farm.env; rejects on any error. */
export async function stackConfig(
  files: readonly string[],
  env: Record<string, string> = farmEnv(),
): Promise<StackDoc> {
  const r = await run('docker', ['stack', 'config', ...files.flatMap((f) => ['-c', f])], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  if (r.code !== 0) throw new Error(`docker stack config ${files.join(' ')} failed:\n${r.stderr}${r.stdout}`);
  return parse(r.stdout) as StackDoc;
}
