import { FARM_PORT_OFFSETS } from '../farm-contract.ts';
import { tcpOpen } from '../process/managed.ts';

/** A farm base port whose whole block of named ports is free right now (for tests that start a farm). */
export async function freeFarmBase(): Promise<number> {
  const span = Math.max(...Object.values(FARM_PORT_OFFSETS)) + 1;
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const used = await Promise.all(Object.values(FARM_PORT_OFFSETS).map((o) => tcpOpen(base + o)));
    if (!used.some(Boolean) && base + span < 65_000) return base;
  }
  throw new Error('no free block of ports');
}
