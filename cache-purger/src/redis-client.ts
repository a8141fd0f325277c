import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { backoffMs } from './plan.ts';

/**
 * The purger's Redis clients. Redis sits behind redis-master (HAProxy following Sentinel), so
 * the purger must outlive everything that happens there: Redis not up yet when the purger starts,
 * Redis restarted, HAProxy closing connections until it knows the master, a failover that leaves
 * a connection on a demoted master. None of that may end the process: every client reconnects
 * forever with backoff, and a connection found on a replica is dropped and made again (through
 * HAProxy, the new one reaches the master).
 */

// ioredis 6 speaks RESP3 by default, where XREADGROUP answers a map (flattened by the legacy reply
// mapping into [stream, entries] instead of [[stream, entries]]). The queue parses RESP2 shapes.
const RESP2 = { protocol: 2 } as const;

/** Delay before reconnection attempt `attempt` (1, 2, ...): 100 ms doubling to 5 s, with jitter. */
export function reconnectDelayMs(attempt: number, random = Math.random): number {
  return backoffMs(attempt - 1, 100, 5_000, random);
}

/**
 * ioredis `reconnectOnError`: READONLY means this connection reached a replica (a failover, or a
 * proxy that routed it before it knew the master): reconnect. `resend` also retries the command
 * on the new connection (2); otherwise it fails (1) and the caller answers for it.
 */
export function reconnectOnReadOnly(resend: boolean): (err: Error) => false | 1 | 2 {
  return (err) => (err.message.startsWith('READONLY') ? (resend ? 2 : 1) : false);
}

/** Pure: is a ROLE reply a master's? (`['master', offset, replicas]`, `['slave', host, ...]`) */
export function isMasterRole(reply: unknown): boolean {
  return Array.isArray(reply) && reply[0] === 'master';
}

/** A client and whether its current connection is ready and on a master (what /healthz reports). */
export interface PurgerRedis {
  client: Redis;
  /** `ready` and ROLE said master on this connection. */
  writable(): boolean;
  /** The connection state for /healthz: ioredis' status, or `replica` when ROLE said so. */
  state(): string;
}

/**
 * Creates a client that reconnects forever. `intake`: no offline queue and no retries (a webhook
 * gets 503 at once and WordPress retries; a 202 is never a promise kept in memory); `worker`:
 * commands wait for the connection and are resent after a READONLY reconnect.
 */
export function createRedis(
  url: string,
  kind: 'intake' | 'worker',
  logger: Logger,
  name: string = kind,
): PurgerRedis {
  // Failed connections in a row, counted by us: ioredis restarts its own count at every `ready`,
  // and a connection that reaches a replica is ready, then dropped (a 100 ms loop otherwise).
  let failures = 0;
  const options: RedisOptions = {
    ...RESP2,
    retryStrategy: () => reconnectDelayMs(++failures),
    reconnectOnError: reconnectOnReadOnly(kind === 'worker'),
    ...(kind === 'intake'
      ? {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          commandTimeout: 2_000,
          enableAutoPipelining: true,
        }
      : { maxRetriesPerRequest: null }),
  };
  const client = new Redis(url, options);
  let role: 'unknown' | 'master' | 'replica' = 'unknown';
  let lastError = '';
  client.on('error', (err: Error) => {
    // Once per distinct error while it lasts: a Redis down for an hour is one line, not 36,000.
    if (err.message !== lastError) logger.warn({ redis: name, err: err.message }, 'redis connection error');
    lastError = err.message;
  });
  client.on('close', () => {
    role = 'unknown';
  });
  client.on('ready', () => {
    if (lastError) logger.info({ redis: name }, 'redis connection ready');
    lastError = '';
    // A connection that lands on a replica would take reads and refuse every write: check the
    // role once per connection, and reconnect (with backoff) rather than wait for a READONLY.
    client.call('ROLE').then(
      (reply) => {
        if (isMasterRole(reply)) {
          role = 'master';
          failures = 0;
        } else {
          role = 'replica';
          logger.warn({ redis: name }, 'redis connection reached a replica; reconnecting');
          client.disconnect(true);
        }
      },
      (err: Error) => {
        // No answer to ROLE on a fresh connection: do not trust it either.
        logger.warn({ redis: name, err: err.message }, 'redis ROLE failed; reconnecting');
        client.disconnect(true);
      },
    );
  });
  return {
    client,
    writable: () => client.status === 'ready' && role === 'master',
    state: () => (client.status === 'ready' && role === 'replica' ? 'replica' : client.status),
  };
}
