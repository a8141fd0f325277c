import type { ServerOptions } from 'node:http';
import type { Server, Socket } from 'node:net';

/**
 * Limits every HTTP service of the farm puts on its clients' connections: a connection that sends
 * nothing is answered 408 and closed within `headersTimeoutMs`, and at most `maxConnections` are
 * open at once (the kernel accepts the rest, Node destroys them at once).
 */
export interface ConnectionLimits {
  /** Time from a connection's first byte expected to its full request head. */
  headersTimeoutMs: number;
  /** Time for the whole request, body included. */
  requestTimeoutMs: number;
  /** Idle time kept between two requests on one connection. */
  keepAliveTimeoutMs: number;
  /** Open connections at most; the next ones are destroyed on accept. */
  maxConnections: number;
}

/** The defaults for a service no client should hold open (health, intake, metrics). */
export const CONNECTION_LIMIT_DEFAULTS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 10_000,
} satisfies ConnectionLimits;

/**
 * `node:http` server options for these limits; spread them into `createServer(options, ...)`
 * (the checking interval can only be set there, not afterwards). Node closes a connection only at
 * the first check after its timeout passed (checks every 30 s by default): with the timeout as
 * given, a silent connection lived up to 1.25× it. So Node gets 80 % of the headers timeout and
 * checks every 20 %: a silent connection is closed between 0.8× and 1× `headersTimeoutMs`.
 * @example createServer({ ...timeoutOptions(limits), maxHeaderSize: 16_384 }, handler)
 */
export function timeoutOptions(limits: Omit<ConnectionLimits, 'maxConnections'>): ServerOptions {
  const headersTimeout = Math.max(1, Math.floor(limits.headersTimeoutMs * 0.8));
  return {
    headersTimeout,
    requestTimeout: Math.max(limits.requestTimeoutMs, headersTimeout),
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(10, Math.min(30_000, Math.floor(limits.headersTimeoutMs * 0.2))),
  };
}

/** What `capConnections` counts, for a service's `/metrics`. */
export interface ConnectionCounts {
  /** Connections open now. */
  open(): number;
  /** Connections destroyed on accept because `maxConnections` were open (since start). */
  refused(): number;
}

/**
 * Caps a server's open connections at `max` and counts them. Node destroys a connection over the
 * cap right after accepting it; `onRefused` hears of each (for a log line that is rate-limited by
 * the caller).
 */
export function capConnections(server: Server, max: number, onRefused?: () => void): ConnectionCounts {
  let open = 0;
  let refused = 0;
  server.maxConnections = max;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
  });
  server.on('drop', () => {
    refused++;
    onRefused?.();
  });
  return { open: () => open, refused: () => refused };
}
