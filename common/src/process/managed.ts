import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** How a process shows it is ready: a TCP port that accepts, an HTTP URL that answers, or a check. */
export type Readiness =
  | { tcp: number; host?: string }
  | { http: string; status?: number }
  | { check: () => Promise<boolean> };

export interface ProcessOptions {
  /** Short name for logs and errors, e.g. `varnish-1`. */
  name: string;
  command: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
  ready?: Readiness;
  readyTimeoutMs?: number;
}

/** A child process in its own process group, so stopping it stops everything it forked. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal name) when the process group leader exits. */
  readonly exited: Promise<number | string>;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Freeze (SIGSTOP) and thaw (SIGCONT) the whole group: a hung peer for fault tests. */
  pause(): void;
  resume(): void;
  /** Send a signal to the whole group. */
  signal(sig: NodeJS.Signals): void;
}

const live = new Set<ChildProcess>();
/** Every handle this process started and that has not exited, oldest first. */
const handles = new Set<ManagedProcess>();

/** The processes started by this process (through any launcher) that are still running, oldest first. */
export function managedProcesses(): ManagedProcess[] {
  return [...handles];
}
let exitHookInstalled = false;

/** Kill every group we started if this process exits without stopping them (test crash, Ctrl-C). */
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Starts a command detached in its own process group, logging to a file, and waits until ready.
 * @throws Error naming the process and the tail of its log when it exits or is not ready in time.
 */
export async function startProcess(opts: ProcessOptions): Promise<ManagedProcess> {
  installExitHook();
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(opts.command, opts.args ?? [], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const pid = child.pid;
  if (pid === undefined) {
    const err = await new Promise<Error>((resolve) => child.once('error', resolve));
    throw new Error(`${opts.name}: cannot start ${opts.command}: ${err.message}`);
  }
  live.add(child);
  let exitState: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, sig) => {
      live.delete(child);
      exitState = code ?? sig ?? 'unknown';
      resolve(exitState);
    });
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // group already gone
    }
  };
  const handle: ManagedProcess = {
    name: opts.name,
    pid,
    logFile: opts.logFile,
    exited,
    signal,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    async stop(graceMs = 5000) {
      if (exitState !== undefined) return;
      signal('SIGCONT'); // a paused group cannot handle SIGTERM
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      signal('SIGKILL'); // grandchildren that outlived the leader
    },
  };
  handles.add(handle);
  void exited.then(() => handles.delete(handle));
  if (opts.ready) {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
    while (!(await isReady(opts.ready))) {
      if (exitState !== undefined)
        throw new Error(
          `${opts.name} exited (${exitState}) before it was ready; see ${opts.logFile}:\n${await tail(opts.logFile)}`,
        );
      if (Date.now() > deadline) {
        await handle.stop(1000);
        throw new Error(
          `${opts.name} was not ready within ${opts.readyTimeoutMs ?? 30_000} ms; see ${opts.logFile}:\n${await tail(opts.logFile)}`,
        );
      }
      await sleep(50);
    }
  }
  return handle;
}

async function isReady(r: Readiness): Promise<boolean> {
  if ('tcp' in r) return tcpOpen(r.tcp, r.host);
  if ('http' in r) {
    try {
      const res = await fetch(r.http, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return r.status === undefined ? res.status < 500 : res.status === r.status;
    } catch {
      return false;
    }
  }
  return r.check().catch(() => false);
}

/** True when something accepts TCP connections on host:port. */
export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ port, host });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** A port that was free a moment ago on 127.0.0.1 (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** The last lines of a log file, for error messages. */
export async function tail(file: string, lines = 20): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}
