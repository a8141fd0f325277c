/**
 * What the benchmarks read from /proc and ask of taskset: CPU time, process groups, CPU pinning.
 * Linux only; every function that needs taskset degrades to "not pinned" without it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** The fields of /proc/<pid>/stat after the command name (so [0] is the state, field 3). */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** Clock ticks per second for /proc/<pid>/stat (USER_HZ, 100 on Linux almost everywhere). */
export function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** utime + stime of a process, all threads, in clock ticks. */
export function cpuTicks(pid: number): number {
  const f = statFields(pid);
  return Number(f[11]) + Number(f[12]);
}

/** Every process (pid) of a process group. */
export function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(entry)[2]) === pgid) out.push(Number(entry));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU time (user + system, ticks) used so far by the processes of a group that are still running. */
export function groupCpuTicks(pgid: number): number {
  let ticks = 0;
  for (const pid of groupPids(pgid)) {
    try {
      ticks += cpuTicks(pid);
    } catch {
      // gone
    }
  }
  return ticks;
}

/** The CPU list a process may run on (`0,1`, `0-3`), or undefined without taskset. */
export function affinity(pid: number): string | undefined {
  try {
    const out = execFileSync('taskset', ['-c', '-p', String(pid)], { encoding: 'utf8' });
    return out.slice(out.lastIndexOf(':') + 1).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Pins every thread of `pid` to a CPU list; threads it starts later inherit it. False without taskset. */
export function pin(pid: number, cpuList: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-c', '-p', cpuList, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins every process (all threads) of a process group to a CPU list. False if none could be. */
export function pinGroup(pgid: number, cpuList: string): boolean {
  let pinned = false;
  for (const pid of groupPids(pgid)) if (pin(pid, cpuList)) pinned = true;
  return pinned;
}

/** VmRSS of a process in bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Highest VmRSS (bytes) of `pid` seen while `during` runs, sampled every 100 ms. */
export async function peakRss<T>(pid: number, during: Promise<T>): Promise<{ result: T; rss: number }> {
  let peak = rssBytes(pid);
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid));
  }, 100);
  try {
    const result = await during;
    return { result, rss: Math.max(peak, rssBytes(pid)) };
  } finally {
    clearInterval(timer);
  }
}
