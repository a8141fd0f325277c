import { readFileSync } from 'node:fs';
import { FARM_PORT_OFFSETS } from '../farm-contract.ts';
import { tcpOpen } from '../process/managed.ts';

/** The kernel's ephemeral range (outgoing connections take ports from it at any moment). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo && hi) return [lo, hi];
  } catch {
    // not Linux: assume the usual range
  }
  return [32_768, 60_999];
}

/**
 * A farm base port whose whole block of named ports is free right now (for tests that start a
 * farm), outside the ephemeral range: a block inside it can be taken by any process's outgoing
 * connection between this check and the farm's listen (seen in CI as "could not be listened on").
 */
export async function freeFarmBase(): Promise<number> {
  const span = Math.max(...Object.values(FARM_PORT_OFFSETS)) + 1;
  const [lo, hi] = ephemeralRange();
  const windows = [
    [10_000, lo - span],
    [hi + 1, 65_535 - span],
  ].filter(([a, b]) => (b as number) > (a as number)) as [number, number][];
  for (let attempt = 0; attempt < 50; attempt++) {
    const [a, b] = windows[attempt % windows.length] ?? [10_000, 30_000];
    const base = a + Math.floor(Math.random() * (b - a));
    const used = await Promise.all(Object.values(FARM_PORT_OFFSETS).map((o) => tcpOpen(base + o)));
    if (!used.some(Boolean)) return base;
  }
  throw new Error('no free block of ports');
}
