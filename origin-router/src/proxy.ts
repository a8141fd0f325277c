/**
 * The streaming forwarder: one upstream attempt through the router's upstream pool
 * (upstream.ts), response bytes written to the client as they arrive (backpressure both ways),
 * no buffering.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { type ResponseHandler, UpstreamError, type UpstreamExchange, type UpstreamPool } from './upstream.ts';

/** Request headers never forwarded (hop-by-hop, and ours: set or checked by the router). */
export const DROP_REQUEST_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-edge-auth',
  'x-edge-host',
  'x-forwarded-for',
  'x-request-id',
  // Node's server already answered the client's 100-continue.
  'expect',
]);

/** Response headers never passed back (hop-by-hop; Node sets its own framing). */
const DROP_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-request-id',
]);

/**
 * Copies the client's headers for the upstream, dropping hop-by-hop ones, those named in
 * `Connection`, the router's own (`x-farm-*`), and when `dropTrace` the trace context.
 */
export function upstreamHeaders(
  raw: readonly string[],
  connection: string | undefined,
  dropTrace: boolean,
): string[] {
  const out: string[] = [];
  let listed: Set<string> | undefined;
  if (connection && connection !== 'keep-alive' && connection !== 'close')
    listed = new Set(
      connection
        .toLowerCase()
        .split(',')
        .map((s) => s.trim()),
    );
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (DROP_REQUEST_HEADERS.has(lower) || lower.startsWith('x-farm-')) continue;
    if (listed?.has(lower)) continue;
    if (dropTrace && (lower === 'traceparent' || lower === 'tracestate')) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

/** What the caller learns from one attempt. */
export interface AttemptResult {
  /** `ok`: response fully sent; `retry`: refused before anything reached the client; `error`. */
  outcome: 'ok' | 'retry' | 'error';
  status: number;
  /** The upstream's `x-cache` header, when any. */
  cache: string;
  error?: Error;
  /** True when response headers were already sent to the client when the error happened. */
  started: boolean;
  /**
   * True when the attempt was cut because the client went away: says nothing about the
   * upstream, so it must not count against its circuit breaker or node health.
   */
  clientClosed?: boolean;
}

export interface AttemptOptions {
  pool: UpstreamPool;
  method: string;
  path: string;
  headers: string[];
  body: Readable | null;
  req: IncomingMessage;
  res: ServerResponse;
  /** When true, a 503 from the upstream is refused (outcome `retry`) unless it says maintenance. */
  retryOn503: boolean;
  /** Extra response headers (flat list), e.g. x-request-id. */
  responseHeaders: string[];
  onHeaders?: (status: number) => void;
  done: (r: AttemptResult) => void;
}

const RETRY = new Error('refused for retry');

/**
 * A refused (503) answer whose declared body is at most this long is read to its end and the
 * connection kept; a longer or unframed one is cut (a cache node answering 503 to everything would
 * otherwise cost a new connection per request).
 */
const REFUSED_BODY_MAX = 64 * 1024;

/** True for `x-farm-*` in any case. */
function isFarmHeader(name: string): boolean {
  return name.length > 7 && name.slice(0, 7).toLowerCase() === 'x-farm-';
}

/** The declared Content-Length among `headers` (name, value pairs), or -1. */
function declaredLength(headers: readonly string[]): number {
  for (let i = 0; i < headers.length; i += 2)
    if (headers[i]!.length === 14 && headers[i]!.toLowerCase() === 'content-length')
      return Number(headers[i + 1]);
  return -1;
}

/** Lengths of the response header names the handler reads or drops. */
const LOOKED_AT_LENGTHS: ReadonlySet<number> = new Set(
  [...DROP_RESPONSE_HEADERS, 'x-cache', 'x-router-maintenance'].map((n) => n.length),
);

/**
 * Each response's attempt in progress, for the two listeners below. They are shared functions, not
 * closures per request: per-request closures held by Node's emitters kept whole requests alive
 * through V8's young-generation GCs (docs/decisions/router-design.md, "what the p99 was made of").
 * A WeakMap rather than a property on the response: an added property pushed Node's
 * `ServerResponse` objects off their fast shape (+40 % CPU per request, same bench).
 */
const ATTEMPTS = new WeakMap<ServerResponse, Handler>();

/** `close` on the response: the client went away before we finished: stop the upstream transfer. */
function onClientClose(this: ServerResponse): void {
  ATTEMPTS.get(this)?.clientGone();
}

/** `drain` on the response: the client caught up, read from the upstream again. */
function onClientDrain(this: ServerResponse): void {
  ATTEMPTS.get(this)?.resume();
}

/** One upstream attempt, streamed. Calls `opts.done` exactly once. */
export function attempt(opts: AttemptOptions): void {
  const h = new Handler(opts);
  ATTEMPTS.set(opts.res, h);
  opts.res.once('close', onClientClose);
  opts.pool.dispatch({ method: opts.method, path: opts.path, headers: opts.headers, body: opts.body }, h);
}

class Handler implements ResponseHandler {
  private readonly o: AttemptOptions;
  private upstream: UpstreamExchange | undefined;
  private resumeFn: (() => void) | undefined;
  private status = 0;
  private cache = '';
  private started = false;
  private finished = false;
  private refused = false;
  private clientClosed = false;

  constructor(o: AttemptOptions) {
    this.o = o;
  }

  clientGone(): void {
    if (this.finished) return;
    this.clientClosed = true;
    this.upstream?.abort(new Error('client closed'));
  }

  resume(): void {
    this.resumeFn?.();
  }

  /** The attempt is over: the response's listeners no longer lead here. */
  private detach(): void {
    const res = this.o.res;
    res.removeListener('close', onClientClose);
    res.removeListener('drain', onClientDrain);
    if (ATTEMPTS.get(res) === this) ATTEMPTS.delete(res);
  }

  onConnect(exchange: UpstreamExchange): void {
    this.upstream = exchange;
    if (this.o.res.destroyed) {
      this.clientClosed = true;
      exchange.abort(new Error('client closed'));
    }
  }

  onHeaders(status: number, headers: string[], resume: () => void): void {
    const res = this.o.res;
    const out = this.o.responseHeaders;
    const base = out.length;
    let maintenance = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      // The upstream's own hints never pass: the router's (x-farm-ttl…) are the only ones the VCL
      // may read, and a visitor must not see them.
      if ((name.charCodeAt(0) | 32) === 120 && isFarmHeader(name)) continue;
      // Only names as long as one this loop looks for are lowercased (most are not).
      if (LOOKED_AT_LENGTHS.has(name.length)) {
        const lower = name.toLowerCase();
        if (DROP_RESPONSE_HEADERS.has(lower)) continue;
        if (lower === 'x-cache') this.cache = value;
        else if (lower === 'x-router-maintenance') maintenance = true;
      }
      out.push(name, value);
    }
    this.status = status;
    if (status === 503 && this.o.retryOn503 && !maintenance) {
      this.refused = true;
      out.length = base; // the next attempt starts from the router's own headers
      const length = declaredLength(headers);
      // A short body is read and dropped (onData, onComplete): the connection stays in the pool.
      if (length < 0 || length > REFUSED_BODY_MAX) this.upstream?.abort(RETRY);
      return;
    }
    this.o.onHeaders?.(status);
    this.resumeFn = resume;
    try {
      res.sendDate = false; // the upstream's Date is passed on
      res.writeHead(status, out);
    } catch (err) {
      // A head node:http will not write (the upstream client already refuses what it knows of):
      // this request fails closed (502) and the upstream connection goes; never the process.
      res.sendDate = true;
      this.upstream?.abort(
        new UpstreamError('UPSTREAM_BAD_RESPONSE', `unforwardable head: ${(err as Error).message}`),
      );
      return;
    }
    this.started = true;
  }

  onData(chunk: Buffer): boolean {
    if (this.refused || !this.started) return true;
    const ok = this.o.res.write(chunk);
    if (!ok) this.o.res.once('drain', onClientDrain);
    return ok;
  }

  onComplete(): void {
    this.finished = true;
    this.detach();
    if (this.refused) {
      this.o.done({ outcome: 'retry', status: this.status, cache: this.cache, started: false, error: RETRY });
      return;
    }
    this.o.res.end();
    this.o.done({ outcome: 'ok', status: this.status, cache: this.cache, started: true });
  }

  onError(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.detach();
    if (this.refused) {
      this.o.done({ outcome: 'retry', status: this.status, cache: this.cache, started: false, error: err });
      return;
    }
    if (this.started) this.o.res.destroy(err); // mid-body: the client must see a broken response, not a short one
    this.o.done({
      outcome: 'error',
      status: this.status,
      cache: this.cache,
      started: this.started,
      error: err,
      clientClosed: this.clientClosed,
    });
  }
}
