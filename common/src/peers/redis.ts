import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type ManagedProcess, startProcess } from '../process/managed.ts';

export interface RedisOptions {
  name?: string;
  dir: string;
  port?: number;
  /** Append-only file with fsync every second (the purger's durability), default true. */
  appendonly?: boolean;
}

export interface RedisInstance {
  name: string;
  port: number;
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** redis-server's arguments for a loopback instance with its data in `dir` (AOF, fsync every second). */
export function redisArgs(port: number, dir: string, appendonly = true): string[] {
  return [
    ['--port', String(port)],
    ['--bind', '127.0.0.1'],
    ['--dir', dir],
    ['--save', ''],
    ['--appendonly', appendonly ? 'yes' : 'no'],
    ['--appendfsync', 'everysec'],
    ['--protected-mode', 'yes'],
    ['--daemonize', 'no'],
  ].flat();
}

/** Starts a real redis-server on loopback, data in `dir`. */
export async function startRedis(opts: RedisOptions): Promise<RedisInstance> {
  const name = opts.name ?? 'redis';
  const port = opts.port ?? (await freePort());
  mkdirSync(opts.dir, { recursive: true });
  const args = redisArgs(port, opts.dir, opts.appendonly !== false);
  const proc = await startProcess({
    name,
    command: 'redis-server',
    args,
    logFile: join(opts.dir, 'redis.log'),
    ready: { tcp: port },
  });
  return { name, port, url: `redis://127.0.0.1:${port}`, process: proc, stop: () => proc.stop() };
}
