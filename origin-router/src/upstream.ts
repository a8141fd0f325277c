/**
 * The router's upstream HTTP/1.1 client: a keep-alive connection pool per origin (a Varnish node,
 * a WordPress service), plain TCP. It parses the response head itself and hands the body on as it
 * arrives (Content-Length, chunked, or until close), with backpressure both ways, one timer sweep
 * per pool for every timeout, and few allocations per exchange: the bench measured undici (its
 * WASM parser, its request objects) as the router's largest source of garbage and of p99 (see
 * docs/decisions/router-design.md).
 *
 * Scope, on purpose: HTTP/1.1 to peers inside the cluster (plain TCP, or TLS for an `https://`
 * origin), no pipelining, no upgrades (a 101 is an error).
 */
import { connect, isIP, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';

export interface PoolOptions {
  /** Most connections open at once; further requests wait in order. */
  connections: number;
  connectTimeoutMs: number;
  /** From the request being sent to the end of the response head. */
  headersTimeoutMs: number;
  /** Longest silence while the response body is arriving. */
  bodyTimeoutMs: number;
  /** Idle keep-alive connections close after this: below the servers' own idle timeout (Varnish: 5 s). */
  keepAliveMs?: number;
  /** Largest response head accepted. */
  maxHeaderBytes?: number;
  /** Extra trusted CA certificates (PEM) for `https://` origins; the system's are trusted too. */
  ca?: string;
}

export interface UpstreamRequest {
  method: string;
  /** Request target (origin form), e.g. `/page?x=1`. */
  path: string;
  /** Flat `[name, value, ...]`; hop-by-hop headers already removed by the caller. */
  headers: readonly string[];
  /** Streamed up: with a `content-length` header as is, otherwise chunked. */
  body: Readable | null;
}

/** The handler's hold on its exchange. */
export interface UpstreamExchange {
  /** Ends the exchange at any point; onError(err) follows (nothing after the end). */
  abort(err: Error): void;
}

/** What the pool calls back, in order: onConnect, onHeaders, onData*, then onComplete or onError (once). */
export interface ResponseHandler {
  /** The exchange has a connection (or is queued for one). */
  onConnect(exchange: UpstreamExchange): void;
  /** Status and flat `[name, value, ...]` headers (1xx skipped). `resume` restarts a paused body. */
  onHeaders(status: number, headers: string[], resume: () => void): void;
  /** A body chunk; `false` pauses reading from the upstream until `resume` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
}

/** Failure codes of this client; socket errors keep their own (`ECONNREFUSED`, ...). */
export type UpstreamErrorCode =
  | 'UPSTREAM_CONNECT_TIMEOUT'
  | 'UPSTREAM_HEADERS_TIMEOUT'
  | 'UPSTREAM_BODY_TIMEOUT'
  | 'UPSTREAM_CLOSED'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'UPSTREAM_BAD_REQUEST'
  | 'UPSTREAM_POOL_CLOSED';

export const UPSTREAM_TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'UPSTREAM_CONNECT_TIMEOUT',
  'UPSTREAM_HEADERS_TIMEOUT',
  'UPSTREAM_BODY_TIMEOUT',
]);

export class UpstreamError extends Error {
  readonly code: UpstreamErrorCode;
  constructor(code: UpstreamErrorCode, message: string) {
    super(message);
    this.name = 'UpstreamError';
    this.code = code;
  }
}

const CRLF2 = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: |$)/;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Parse states of a connection. */
const S = {
  Head: 0,
  Length: 1,
  UntilClose: 2,
  ChunkSize: 3,
  ChunkData: 4,
  ChunkEnd: 5,
  Trailers: 6,
} as const;
type State = (typeof S)[keyof typeof S];

/**
 * One request/response on a connection. No closures per exchange, and nothing of the request kept
 * once it ends: with a per-exchange `abort` closure, V8 kept whole requests (Node's req/res, the
 * router's objects) alive through young-generation GCs, ~45 % of all allocation survived and every
 * scavenge paused milliseconds (see docs/decisions/router-design.md).
 */
class Exchange implements UpstreamExchange {
  done = false;
  /** A response byte arrived: from then on the request was certainly processed. */
  answered = false;
  /** Re-sent once after a reused connection died before answering. */
  resent = false;
  readonly pool: UpstreamPool;
  req: UpstreamRequest;
  handler: ResponseHandler;
  constructor(pool: UpstreamPool, req: UpstreamRequest, handler: ResponseHandler) {
    this.pool = pool;
    this.req = req;
    this.handler = handler;
  }

  abort(err: Error): void {
    this.pool.abortExchange(this, err);
  }

  /** Marks the end and lets go of the request; returns the handler for its last call. */
  end(): ResponseHandler {
    const h = this.handler;
    this.done = true;
    this.handler = ENDED_HANDLER;
    this.req = ENDED_REQUEST;
    return h;
  }
}

const ENDED_REQUEST: UpstreamRequest = { method: 'GET', path: '/', headers: [], body: null };
const ENDED_HANDLER: ResponseHandler = {
  onConnect() {},
  onHeaders() {},
  onData: () => true,
  onComplete() {},
  onError() {},
};

class Conn {
  readonly socket: Socket;
  ex: Exchange | undefined;
  reused = false;
  keepAlive = true;
  /** Request body still being written (the response may come first). */
  bodyPending = false;
  /** Stops streaming the request body (listeners off). */
  stopBody: (() => void) | undefined;
  deadline = 0;
  deadlineCode: UpstreamErrorCode | 'IDLE' = 'UPSTREAM_CONNECT_TIMEOUT';
  state: State = S.Head;
  buf: Buffer | undefined;
  remaining = 0;
  noBody = false;
  readonly resume: () => void;

  constructor(pool: UpstreamPool) {
    const { host, port } = pool;
    this.socket = pool.tls
      ? tlsConnect({
          host,
          port,
          servername: isIP(host) ? undefined : host,
          ALPNProtocols: ['http/1.1'],
          ...(pool.tls.ca ? { ca: pool.tls.ca } : {}),
        })
      : connect({ host, port, noDelay: true });
    if (pool.tls) this.socket.setNoDelay(true);
    this.resume = () => this.socket.resume();
    this.socket.on(pool.tls ? 'secureConnect' : 'connect', () => pool.onConnected(this));
    this.socket.on('data', (d: Buffer) => pool.onBytes(this, d));
    this.socket.on('end', () => pool.onEnd(this));
    this.socket.on('error', (err) => pool.onClosed(this, err));
    this.socket.on('close', () => pool.onClosed(this, undefined));
  }
}

/** A keep-alive connection pool to one origin (`http://host:port` or `https://host:port`). */
export class UpstreamPool {
  readonly host: string;
  readonly port: number;
  /** Set for an `https://` origin. */
  readonly tls: { ca: string | undefined } | undefined;
  private readonly o: Required<Omit<PoolOptions, 'ca'>>;
  private readonly conns = new Set<Conn>();
  private readonly idle: Conn[] = [];
  private readonly queue: Exchange[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(origin: string, opts: PoolOptions) {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new Error(`upstream ${origin}: only http:// and https:// are supported`);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.tls = u.protocol === 'https:' ? { ca: opts.ca } : undefined;
    this.port = Number(u.port || (this.tls ? 443 : 80));
    this.o = { keepAliveMs: 4000, maxHeaderBytes: 64 * 1024, ...opts };
  }

  /** Sends `req`; the handler hears the rest. Never throws. */
  dispatch(req: UpstreamRequest, handler: ResponseHandler): void {
    const ex = new Exchange(this, req, handler);
    if (this.closed) {
      queueMicrotask(() => this.fail(ex, new UpstreamError('UPSTREAM_POOL_CLOSED', 'upstream pool closed')));
      return;
    }
    this.place(ex);
  }

  /** Connections open now (busy or idle). */
  get size(): number {
    return this.conns.size;
  }

  /** Closes every connection; queued and running exchanges fail with UPSTREAM_POOL_CLOSED. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    const err = new UpstreamError('UPSTREAM_POOL_CLOSED', 'upstream pool closed');
    for (const ex of this.queue.splice(0)) this.fail(ex, err);
    const closing = [...this.conns].map(
      (c) =>
        new Promise<void>((resolve) => (c.socket.destroyed ? resolve() : c.socket.once('close', resolve))),
    );
    for (const c of this.conns) {
      if (c.ex) this.fail(c.ex, err);
      c.socket.destroy();
    }
    await Promise.all(closing);
  }

  private place(ex: Exchange, fresh = false): void {
    const idle = fresh ? undefined : this.idle.pop();
    if (idle) {
      idle.reused = true;
      this.start(idle, ex);
    } else if (this.conns.size < this.o.connections) {
      const c = new Conn(this);
      this.conns.add(c);
      c.ex = ex;
      c.deadline = Date.now() + this.o.connectTimeoutMs;
      c.deadlineCode = 'UPSTREAM_CONNECT_TIMEOUT';
      this.ensureSweeper();
      ex.handler.onConnect(ex);
    } else this.queue.push(ex);
  }

  /** Starts `ex` on a connected, free connection. */
  private start(c: Conn, ex: Exchange): void {
    c.ex = ex;
    c.state = S.Head;
    c.buf = undefined;
    c.deadline = Date.now() + this.o.headersTimeoutMs;
    c.deadlineCode = 'UPSTREAM_HEADERS_TIMEOUT';
    ex.handler.onConnect(ex);
    if (ex.done) return;
    this.send(c, ex);
  }

  onConnected(c: Conn): void {
    const ex = c.ex;
    if (!ex) {
      this.release(c);
      return;
    }
    c.deadline = Date.now() + this.o.headersTimeoutMs;
    c.deadlineCode = 'UPSTREAM_HEADERS_TIMEOUT';
    this.send(c, ex);
  }

  private send(c: Conn, ex: Exchange): void {
    const { method, path, headers, body } = ex.req;
    if (!TOKEN.test(method) || path.length === 0 || /[\s\0]/.test(path)) {
      this.abortExchange(ex, new UpstreamError('UPSTREAM_BAD_REQUEST', 'invalid method or path'));
      return;
    }
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let hasLength = false;
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      if (!TOKEN.test(name) || value.includes('\r') || value.includes('\n') || value.includes('\0')) {
        this.abortExchange(
          ex,
          new UpstreamError('UPSTREAM_BAD_REQUEST', `invalid header ${JSON.stringify(name)}`),
        );
        return;
      }
      if (name.length === 14 && name.toLowerCase() === 'content-length') hasLength = true;
      head += `${name}: ${value}\r\n`;
    }
    c.noBody = method === 'HEAD';
    if (!body) {
      c.socket.write(`${head}\r\n`, 'latin1');
      return;
    }
    const chunked = !hasLength;
    c.socket.write(chunked ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}\r\n`, 'latin1');
    c.bodyPending = true;
    const socket = c.socket;
    const onData = (chunk: Buffer) => {
      let ok: boolean;
      if (chunked) {
        if (chunk.length === 0) return;
        socket.cork();
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        ok = socket.write('\r\n', 'latin1');
        socket.uncork();
      } else ok = socket.write(chunk);
      if (!ok) {
        body.pause();
        socket.once('drain', () => body.resume());
      }
    };
    const cleanup = () => {
      c.stopBody = undefined;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onEnd = () => {
      cleanup();
      c.bodyPending = false;
      if (chunked && !socket.destroyed) socket.write('0\r\n\r\n', 'latin1');
    };
    const onError = (err: Error) => {
      cleanup();
      this.abortExchange(ex, err);
    };
    const onClose = () => {
      cleanup();
      if (c.bodyPending)
        this.abortExchange(ex, new UpstreamError('UPSTREAM_BAD_REQUEST', 'request body ended early'));
    };
    c.stopBody = cleanup;
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
    if (body.isPaused()) body.resume();
  }

  onBytes(c: Conn, d: Buffer): void {
    const ex = c.ex;
    if (!ex) {
      // Bytes nobody asked for: the connection is out of step.
      c.socket.destroy();
      return;
    }
    ex.answered = true;
    let buf: Buffer = d;
    while (buf.length > 0 && c.ex === ex && !ex.done) {
      switch (c.state) {
        case S.Head: {
          const data = c.buf ? Buffer.concat([c.buf, buf]) : buf;
          const end = data.indexOf(CRLF2);
          if (end === -1 || end > this.o.maxHeaderBytes) {
            if (data.length > this.o.maxHeaderBytes) {
              this.bad(c, ex, 'response head too large');
              return;
            }
            c.buf = data;
            return;
          }
          c.buf = undefined;
          buf = data.subarray(end + 4);
          const next = this.head(c, ex, data.toString('latin1', 0, end));
          if (next === 'complete') this.complete(c, ex, buf.length > 0);
          else if (next === 'stop') return;
          break;
        }
        case S.Length:
        case S.ChunkData: {
          // Up to `remaining` bytes of the body (or of the current chunk).
          const take = Math.min(c.remaining, buf.length);
          const chunk = take === buf.length ? buf : buf.subarray(0, take);
          buf = take === buf.length ? EMPTY : buf.subarray(take);
          c.remaining -= take;
          const inChunk = c.state === S.ChunkData;
          if (inChunk && c.remaining === 0) {
            c.state = S.ChunkEnd;
            c.remaining = 2;
          }
          this.deliver(c, ex, chunk);
          if (!inChunk && c.remaining === 0 && !ex.done) this.complete(c, ex, buf.length > 0);
          break;
        }
        case S.UntilClose:
          this.deliver(c, ex, buf);
          buf = EMPTY;
          break;
        case S.ChunkSize:
        case S.Trailers: {
          const data = c.buf ? Buffer.concat([c.buf, buf]) : buf;
          const eol = data.indexOf('\r\n');
          if (eol === -1) {
            if (data.length > 4096) {
              this.bad(c, ex, 'chunk line too long');
              return;
            }
            c.buf = data;
            return;
          }
          c.buf = undefined;
          const line = data.toString('latin1', 0, eol);
          buf = data.subarray(eol + 2);
          if (c.state === S.Trailers) {
            if (line.length === 0) this.complete(c, ex, buf.length > 0);
            break;
          }
          const semi = line.indexOf(';');
          const hex = (semi === -1 ? line : line.slice(0, semi)).trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) {
            this.bad(c, ex, 'bad chunk size');
            return;
          }
          c.remaining = Number.parseInt(hex, 16);
          c.state = c.remaining === 0 ? S.Trailers : S.ChunkData;
          break;
        }
        case S.ChunkEnd: {
          // The CRLF after a chunk's data, possibly split across reads.
          const take = Math.min(c.remaining, buf.length);
          for (let i = 0; i < take; i++)
            if (buf[i] !== (c.remaining - i === 2 ? 13 : 10)) {
              this.bad(c, ex, 'bad chunk end');
              return;
            }
          c.remaining -= take;
          buf = buf.subarray(take);
          if (c.remaining === 0) c.state = S.ChunkSize;
          break;
        }
      }
    }
  }

  /**
   * Parses a response head and sets the body's framing: `body` to read one, `complete` when there
   * is none, `stop` when the exchange ended (bad head, or the handler aborted). A 1xx is skipped.
   */
  private head(c: Conn, ex: Exchange, text: string): 'body' | 'complete' | 'stop' {
    const lines = text.split('\r\n');
    const m = STATUS_LINE.exec(lines[0]!);
    if (!m) return this.bad(c, ex, 'bad status line');
    const status = Number(m[2]);
    const out: string[] = [];
    let length = -1;
    let chunked = false;
    let otherCoding = false;
    let connection = '';
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) return this.bad(c, ex, 'bad header line');
      const name = line.slice(0, colon);
      if (!TOKEN.test(name)) return this.bad(c, ex, 'bad header name');
      const value = line.slice(colon + 1).trim();
      // Framing headers: only names of these lengths need a look (14, 17, 10).
      const n = name.length;
      if (n === 14 || n === 17 || n === 10) {
        const lower = name.toLowerCase();
        if (lower === 'content-length') {
          if (!/^\d{1,15}$/.test(value) || (length !== -1 && length !== Number(value)))
            return this.bad(c, ex, 'bad content-length');
          length = Number(value);
        } else if (lower === 'transfer-encoding') {
          const codings = value.toLowerCase().split(',');
          if (codings[codings.length - 1]!.trim() === 'chunked') chunked = true;
          else otherCoding = true;
        } else if (lower === 'connection') connection += `${value.toLowerCase()},`;
      }
      out.push(name, value);
    }
    if (status < 200) {
      if (status === 101) return this.bad(c, ex, 'unexpected protocol switch');
      return 'body'; // 100 Continue and friends: the state stays Head, the real head follows
    }
    const http10 = m[1] === '0';
    c.keepAlive = http10
      ? /(^|,)\s*keep-alive\s*(,|$)/.test(connection)
      : !/(^|,)\s*close\s*(,|$)/.test(connection);
    c.deadline = Date.now() + this.o.bodyTimeoutMs;
    c.deadlineCode = 'UPSTREAM_BODY_TIMEOUT';
    ex.handler.onHeaders(status, out, c.resume);
    if (ex.done || c.ex !== ex) return 'stop';
    if (c.noBody || status === 204 || status === 304) return 'complete';
    if (chunked || otherCoding) {
      // Both a length and a coding: the coding wins and the connection cannot be trusted after.
      if (length !== -1) c.keepAlive = false;
      if (otherCoding && !chunked) {
        c.state = S.UntilClose;
        c.keepAlive = false;
      } else c.state = S.ChunkSize;
    } else if (length >= 0) {
      if (length === 0) return 'complete';
      c.remaining = length;
      c.state = S.Length;
    } else {
      c.state = S.UntilClose;
      c.keepAlive = false;
    }
    return 'body';
  }

  private deliver(c: Conn, ex: Exchange, chunk: Buffer): void {
    c.deadline = Date.now() + this.o.bodyTimeoutMs;
    if (!ex.handler.onData(chunk) && !ex.done) c.socket.pause();
  }

  private complete(c: Conn, ex: Exchange, leftover: boolean): void {
    const handler = ex.end();
    c.ex = undefined;
    c.stopBody?.();
    // Extra bytes, a body still going up, or the server's say-so: this connection is not reused.
    if (leftover || c.bodyPending || !c.keepAlive) c.socket.destroy();
    else this.release(c);
    handler.onComplete();
  }

  private bad(c: Conn, ex: Exchange, why: string): 'stop' {
    c.ex = undefined;
    c.socket.destroy();
    this.fail(
      ex,
      new UpstreamError('UPSTREAM_BAD_RESPONSE', `bad response from ${this.host}:${this.port}: ${why}`),
    );
    return 'stop';
  }

  /** A connection is free: the next queued exchange takes it, or it waits idle. */
  private release(c: Conn): void {
    c.socket.resume();
    const next = this.queue.shift();
    if (next) {
      c.reused = true;
      this.start(c, next);
      return;
    }
    c.deadline = Date.now() + this.o.keepAliveMs;
    c.deadlineCode = 'IDLE';
    this.idle.push(c);
  }

  onEnd(c: Conn): void {
    const ex = c.ex;
    if (ex && !ex.done && c.state === S.UntilClose && c.buf === undefined) {
      this.complete(c, ex, false);
      return;
    }
    c.socket.destroy();
  }

  onClosed(c: Conn, err: Error | undefined): void {
    if (!this.conns.delete(c) && !c.ex) return;
    const i = this.idle.indexOf(c);
    if (i !== -1) this.idle.splice(i, 1);
    const ex = c.ex;
    c.ex = undefined;
    c.stopBody?.();
    if (ex && !ex.done) {
      // A reused keep-alive connection the server had closed: a request it never answered is
      // safe to send again once, on a fresh connection, when it is idempotent and has no body.
      if (c.reused && !ex.answered && !ex.resent && ex.req.body === null && IDEMPOTENT.has(ex.req.method)) {
        ex.resent = true;
        if (!this.closed) {
          this.place(ex, true);
          return;
        }
      }
      this.fail(
        ex,
        err ?? new UpstreamError('UPSTREAM_CLOSED', `${this.host}:${this.port} closed the connection`),
      );
    }
    // A slot is free: a queued exchange may open a connection.
    if (!this.closed && this.queue.length > 0 && this.conns.size < this.o.connections)
      this.place(this.queue.shift()!);
    if (this.conns.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Ends `ex` with `err`: the handler's abort, a timeout, a bad request. */
  abortExchange(ex: Exchange, err: Error): void {
    if (ex.done) return;
    const qi = this.queue.indexOf(ex);
    if (qi !== -1) this.queue.splice(qi, 1);
    for (const c of this.conns)
      if (c.ex === ex) {
        c.ex = undefined;
        c.socket.destroy();
        break;
      }
    this.fail(ex, err);
  }

  private fail(ex: Exchange, err: Error): void {
    if (ex.done) return;
    ex.end().onError(err);
  }

  private ensureSweeper(): void {
    if (this.sweeper) return;
    const o = this.o;
    const tick = Math.max(
      10,
      Math.min(
        250,
        Math.floor(Math.min(o.connectTimeoutMs, o.headersTimeoutMs, o.bodyTimeoutMs, o.keepAliveMs) / 4),
      ),
    );
    this.sweeper = setInterval(() => this.sweep(), tick).unref();
  }

  private sweep(): void {
    const now = Date.now();
    for (const c of this.conns) {
      if (now < c.deadline) continue;
      if (c.deadlineCode === 'IDLE') {
        c.socket.destroy();
        continue;
      }
      // Paused by the client's backpressure: the silence is ours, not the upstream's.
      if (c.deadlineCode === 'UPSTREAM_BODY_TIMEOUT' && c.socket.isPaused()) {
        c.deadline = now + this.o.bodyTimeoutMs;
        continue;
      }
      const ex = c.ex;
      const code = c.deadlineCode;
      c.ex = undefined;
      c.socket.destroy();
      if (ex)
        this.fail(
          ex,
          new UpstreamError(code, `${this.host}:${this.port}: ${code.toLowerCase().replaceAll('_', ' ')}`),
        );
    }
  }
}

/** One pool per origin, made on first use (the back role's WordPress services). */
export class UpstreamAgent {
  private readonly pools = new Map<string, UpstreamPool>();
  private readonly opts: PoolOptions;
  constructor(opts: PoolOptions) {
    this.opts = opts;
  }

  pool(origin: string): UpstreamPool {
    let p = this.pools.get(origin);
    if (!p) {
      p = new UpstreamPool(origin, this.opts);
      this.pools.set(origin, p);
    }
    return p;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }
}

/** A request whose body is not wanted (health probes): resolves with the status, or rejects. */
export function requestStatus(pool: UpstreamPool, method: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let status = 0;
    pool.dispatch(
      { method, path, headers: ['host', `${pool.host}:${pool.port}`], body: null },
      {
        onConnect() {},
        onHeaders(s) {
          status = s;
        },
        onData: () => true,
        onComplete: () => resolve(status),
        onError: reject,
      },
    );
  });
}
