/**
 * The Docker CLI, as the local Swarm profile and its tests call it: argv only (no shell), secrets
 * on stdin, a timeout on every call, and the engine started and stopped when nothing else runs it.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class DockerError extends Error {
  readonly code = 'SWARM_DOCKER_FAILED';
  readonly argv: string[];
  readonly status: number | null;
  readonly stderr: string;
  constructor(argv: string[], status: number | null, stderr: string) {
    super(
      `${argv.slice(0, 4).join(' ')}… exited ${status}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
    this.argv = argv;
    this.status = status;
    this.stderr = stderr;
  }
}

export interface DockerOptions {
  /** Written to the command's stdin (secret values travel this way, never in argv). */
  input?: string;
  /** Kill the command after this long (default 120 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  /** Stream the command's output to ours (long builds show their progress). */
  inherit?: boolean;
}

export interface DockerResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `docker <argv>`; throws DockerError on a non-zero exit unless allowFailure. */
export function docker(argv: string[], opts: DockerOptions = {}): Promise<DockerResult> {
  return command('docker', argv, opts);
}

/** Runs any command with the same rules as docker(). */
export function command(cmd: string, argv: string[], opts: DockerOptions = {}): Promise<DockerResult> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, argv, {
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', opts.inherit ? 'inherit' : 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c;
    });
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c;
      if (opts.inherit) process.stderr.write(c);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    child.on('close', (status) => {
      clearTimeout(timer);
      const r = { status, stdout, stderr };
      if (status === 0 || opts.allowFailure) done(r);
      else fail(new DockerError([cmd, ...argv], status, stderr));
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined) or the time is up. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 2_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until)
      throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`, {
        cause: last,
      });
    await sleep(everyMs);
  }
}

const engineUp = async () =>
  (await docker(['info', '--format', '{{.ServerVersion}}'], { allowFailure: true, timeoutMs: 10_000 }))
    .status === 0;

/**
 * Starts dockerd when no engine answers (its log and a marker in `runDir`, so `stopEngine` stops
 * only an engine this profile started), then makes this node a one-node Swarm if it is not one.
 */
export async function ensureEngine(runDir: string, log: (s: string) => void): Promise<void> {
  mkdirSync(runDir, { recursive: true });
  if (!(await engineUp())) {
    if (!existsSync('/usr/sbin/dockerd') && !existsSync('/usr/bin/dockerd'))
      throw new Error("no Docker engine: install Debian's docker.io (scripts/swarm.sh does, as root)");
    log('starting dockerd');
    const out = openSync(join(runDir, 'dockerd.log'), 'a');
    const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', out, out] });
    child.unref();
    closeSync(out);
    writeFileSync(join(runDir, 'dockerd.pid'), String(child.pid));
    await waitFor('dockerd to answer', async () => ((await engineUp()) ? true : undefined), 60_000, 500);
  }
  const state = (await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).stdout.trim();
  if (state !== 'active') {
    log('docker swarm init (one node, 127.0.0.1)');
    await docker(['swarm', 'init', '--advertise-addr', '127.0.0.1']);
  }
}

/** Stops dockerd if ensureEngine started it (CI leaves nothing running that it started). */
export async function stopEngine(runDir: string, log: (s: string) => void): Promise<void> {
  const pidFile = join(runDir, 'dockerd.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  rmSync(pidFile);
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  log(`stopping dockerd (pid ${pid})`);
  await waitFor(
    'dockerd to exit',
    async () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    },
    60_000,
    500,
  );
}
