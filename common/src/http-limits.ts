import type { ServerOptions } from 'node:http';
import type { Server, Socket } from 'node:net';

/**
 * Limits every HTTP service of the farm puts on its clients' connections: a connection that sends
 * nothing is answered 408 and closed once `headersTimeoutMs` has passed (Node checks on an
 * interval, 30 s by default, so the interval is derived from the timeout), and at most
 * `maxConnections` are open at once (the kernel accepts the rest, Node destroys them at once).
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
 * (the checking interval can only be set there, not afterwards).
 * @example createServer({ ...timeoutOptions(limits), maxHeaderSize: 16_384 }, handler)
 */
export function timeoutOptions(limits: Omit<ConnectionLimits, 'maxConnections'>): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs),
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks header/request timeouts on this interval (default 30 s): keep it well below them.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 4))),
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
