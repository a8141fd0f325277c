/**
 * The router's upstream HTTP/1.1 client: a keep-alive connection pool per origin (a Varnish node,
 * a WordPress service), plain TCP. Responses are parsed by llhttp, node:http's own parser, driven
 * directly (no hand-written framing: docs/decisions/router-upstream-client.md); the body is handed
 * on as it arrives, with backpressure both ways, one timer sweep per pool for every timeout, and
 * few allocations per exchange: the bench measured undici (its WASM parser, its request objects)
 * as the router's largest source of garbage and of p99 (see docs/decisions/router-design.md).
 * Anything llhttp rejects, or accepts but the router could not forward, fails that exchange
 * (UPSTREAM_BAD_RESPONSE) and destroys its connection; a connection is reused only when llhttp
 * would keep it alive and nothing followed the response.
 *
 * Scope, on purpose: HTTP/1.1 to peers inside the cluster (plain TCP, or TLS for an `https://`
 * origin), no pipelining, no upgrades (a 101 is an error).
 */
import { createRequire } from 'node:module';
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
  /** Largest response head accepted (default node:http's 16 KB). */
  maxHeaderBytes?: number;
  /** Extra trusted CA certificates (PEM) for `https://` origins; the system's are trusted too. */
  ca?: string;
  /**
   * Opens a connection instead of TCP/TLS to the origin: the differential suite feeds the pool
   * in-memory sockets, so 100,000 crafted responses cost no kernel round trips.
   */
  connect?: () => Socket;
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

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);
/** What `res.writeHead` refuses in a value (node's `_http_common` check): such a head fails closed. */
const INVALID_VALUE_CHAR = /[^\t\x20-\x7e\x80-\xff]/;
/** Header fields per response at most (node:http's client keeps 2,000 and drops the rest). */
const MAX_HEADER_FIELDS = 1000;
/** node:http's own response head limit (`http.maxHeaderSize`), the reference this client matches. */
export const DEFAULT_MAX_HEADER_BYTES = 16 * 1024;

/**
 * llhttp, the parser node:http uses, driven directly (`_http_common` exports the binding node's
 * client and server use). The response framing is llhttp's own, so every framing decision agrees
 * with node:http by construction; the pool around it only decides what llhttp leaves to its
 * caller (whether a connection is reused, what the router can forward).
 */
interface LlhttpParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | Error;
  finish(): number | Error | undefined;
  close(): void;
  [slot: number]: unknown;
  conn: Conn | undefined;
}
interface LlhttpParserClass {
  new (): LlhttpParser;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kLenientNone: number;
}
/**
 * What `kOnHeadersComplete` returns to have llhttp stop right after the head as for an upgrade
 * (the binding then returns the head's length, resumes, and calls neither `kOnBody` nor anything
 * else for the bytes after it). The pool uses it for Content-Length bodies: see `onHead`.
 */
const STOP_AFTER_HEAD = 2;
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser: LlhttpParserClass };

// Shared parser callbacks (no closure per connection; `this` is the parser).
function parserOnMessageBegin(this: LlhttpParser): void {
  if (this.conn) this.conn.pool.onMessageBegin(this.conn);
}
function parserOnHeaders(this: LlhttpParser, headers: string[]): void {
  if (this.conn) this.conn.pool.onHeaderPart(this.conn, headers);
}
function parserOnHeadersComplete(
  this: LlhttpParser,
  major: number,
  minor: number,
  headers: string[] | undefined,
  _method: unknown,
  _url: unknown,
  status: number,
  _statusMessage: unknown,
  upgrade: boolean,
  keepAlive: boolean,
): number {
  const c = this.conn;
  return c ? c.pool.onHead(c, major, minor, headers, status, upgrade, keepAlive) : 1;
}
function parserOnBody(this: LlhttpParser, chunk: Buffer): void {
  if (this.conn) this.conn.pool.onBody(this.conn, chunk);
}
function parserOnMessageComplete(this: LlhttpParser): void {
  if (this.conn) this.conn.pool.onMessageComplete(this.conn);
}
function closeParser(p: LlhttpParser): void {
  p.close();
}

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
  noBody = false;
  /** A 1xx head was read: its (bodiless) message end is not the exchange's. */
  interim = false;
  /** llhttp finished the response during the current read; handed over once the read is parsed. */
  msgDone = false;
  /** A byte arrived after the response ended: never reused. */
  extra = false;
  /**
   * Body bytes still to forward as slices of the socket's reads, llhttp stopped at the end of the
   * head; -1 while llhttp reads the stream.
   */
  rawLeft = -1;
  /** Header fields llhttp flushed before the head ended (more than 32 of them). */
  headerParts: string[] | undefined;
  readonly parser: LlhttpParser;
  /** The parser's async resource, kept to re-initialise it after a body read past llhttp. */
  readonly parserResource = {};
  readonly maxHeaderBytes: number;
  readonly pool: UpstreamPool;
  readonly resume: () => void;

  constructor(pool: UpstreamPool, maxHeaderBytes: number) {
    const { host, port } = pool;
    this.pool = pool;
    this.maxHeaderBytes = maxHeaderBytes;
    const parser = new HTTPParser();
    parser.initialize(HTTPParser.RESPONSE, this.parserResource, maxHeaderBytes, HTTPParser.kLenientNone);
    parser[HTTPParser.kOnMessageBegin] = parserOnMessageBegin;
    parser[HTTPParser.kOnHeaders] = parserOnHeaders;
    parser[HTTPParser.kOnHeadersComplete] = parserOnHeadersComplete;
    parser[HTTPParser.kOnBody] = parserOnBody;
    parser[HTTPParser.kOnMessageComplete] = parserOnMessageComplete;
    parser.conn = this;
    this.parser = parser;
    this.socket = pool.connectSocket
      ? pool.connectSocket()
      : pool.tls
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
    this.socket.on('close', () => {
      pool.onClosed(this, undefined);
      // Freed outside any parser callback (node:http does the same).
      parser.conn = undefined;
      setImmediate(closeParser, parser);
    });
  }
}

/**
 * The body length of a final response llhttp has accepted the head of, when llhttp frames that
 * body by its Content-Length alone (one header, digits, no Transfer-Encoding: llhttp refused any
 * other form before the head got here); 0 otherwise (no body, or llhttp reads it: chunked, to the
 * close, an unusual length). Does not judge the head: only which of llhttp's framings applies.
 */
function contentLengthBody(headers: readonly string[]): number {
  let value: string | undefined;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return 0;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      if (value !== undefined) return 0;
      value = headers[i + 1]!;
    }
  }
  return value !== undefined && /^[0-9]{1,15}$/.test(value) ? Number(value) : 0;
}

/** A keep-alive connection pool to one origin (`http://host:port` or `https://host:port`). */
export class UpstreamPool {
  readonly host: string;
  readonly port: number;
  /** Set for an `https://` origin. */
  readonly tls: { ca: string | undefined } | undefined;
  private readonly o: Required<Omit<PoolOptions, 'ca' | 'connect'>>;
  /** Set by tests that feed the pool in-memory sockets. */
  readonly connectSocket: (() => Socket) | undefined;
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
    this.o = { keepAliveMs: 4000, maxHeaderBytes: DEFAULT_MAX_HEADER_BYTES, ...opts };
    this.connectSocket = opts.connect;
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
      const c = new Conn(this, this.o.maxHeaderBytes);
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
    if (!ex || c.socket.destroyed) {
      // Bytes nobody asked for: the connection is out of step.
      c.socket.destroy();
      return;
    }
    ex.answered = true;
    if (c.rawLeft >= 0) {
      this.rawBody(c, ex, d, 0);
      return;
    }
    let r: number | Error;
    try {
      r = c.parser.execute(d);
    } catch (err) {
      // A handler threw inside a parser callback: that exchange alone fails.
      this.crashed(c, ex, err);
      return;
    }
    if (c.rawLeft >= 0 && typeof r === 'number') this.rawBody(c, ex, d, r);
    else this.afterParse(c, ex, r instanceof Error ? r : undefined);
  }

  /**
   * Bytes `d[from..]` of a body llhttp framed by its Content-Length and left to us (`onHead`):
   * forwarded as slices of the read, not the copy llhttp's `kOnBody` makes of every chunk (at the
   * benchmark's 46 KB pages, hundreds of MB/s of external memory and the mark-compacts it causes).
   * After the last byte the parser starts afresh for the next response; any byte after the body
   * in the same read is surplus, as when llhttp reads the body.
   */
  private rawBody(c: Conn, ex: Exchange, d: Buffer, from: number): void {
    if (c.ex !== ex || ex.done) {
      c.socket.destroy();
      return;
    }
    const take = Math.min(d.length - from, c.rawLeft);
    if (take > 0) {
      c.rawLeft -= take;
      try {
        this.deliver(c, ex, from === 0 && take === d.length ? d : d.subarray(from, from + take));
      } catch (err) {
        this.crashed(c, ex, err);
        return;
      }
      if (ex.done) return;
    }
    if (c.rawLeft > 0) return;
    c.rawLeft = -1;
    if (from + take < d.length) c.extra = true;
    else
      c.parser.initialize(HTTPParser.RESPONSE, c.parserResource, c.maxHeaderBytes, HTTPParser.kLenientNone);
    this.complete(c, ex, !c.extra && c.keepAlive && !c.bodyPending);
  }

  /**
   * After llhttp has consumed a read (or the end of the stream): a response that completed is
   * handed over, and its connection goes back to the pool only when llhttp would keep it and no
   * byte followed the response; a parse error fails an exchange still in progress.
   */
  private afterParse(c: Conn, ex: Exchange, err: Error | undefined, eof = false): void {
    if (c.msgDone && c.ex === ex && !ex.done) {
      c.msgDone = false;
      this.complete(c, ex, !err && !eof && !c.extra && c.keepAlive && !c.bodyPending);
      return;
    }
    if (err) {
      const code = (err as { code?: string }).code ?? 'parse error';
      if (c.ex === ex && !ex.done) this.bad(c, ex, `${code} ${(err as { reason?: string }).reason ?? ''}`);
      else c.socket.destroy();
    } else if (c.extra) c.socket.destroy();
  }

  /** llhttp: the first byte of a message. One that starts after our response ended is surplus. */
  onMessageBegin(c: Conn): void {
    const ex = c.ex;
    if (!ex || ex.done || c.msgDone) c.extra = true;
  }

  /**
   * llhttp: a response head. Returns 1 to tell llhttp the message has no body (a 1xx, an answer to
   * HEAD), as node:http's client does, and STOP_AFTER_HEAD when llhttp would frame the body by its
   * Content-Length alone: the pool then reads that many bytes itself (`rawBody`). Whatever llhttp
   * accepts but the router could not forward (a status outside 100–999, a version other than
   * 1.0/1.1, a protocol switch, a value `res.writeHead` would throw on) fails this exchange instead.
   */
  onHead(
    c: Conn,
    major: number,
    minor: number,
    flat: string[] | undefined,
    status: number,
    upgrade: boolean,
    keepAlive: boolean,
  ): number {
    const ex = c.ex;
    if (!ex || ex.done || c.msgDone) {
      c.extra = true;
      return 1;
    }
    let headers = flat;
    if (headers === undefined || c.headerParts !== undefined) {
      headers = c.headerParts ? c.headerParts.concat(headers ?? []) : [];
      c.headerParts = undefined;
    }
    if (major !== 1 || minor > 1) return this.badHead(c, ex, `HTTP/${major}.${minor}`);
    if (status === 101 || upgrade) return this.badHead(c, ex, 'unexpected protocol switch');
    if (status < 100 || status > 999) return this.badHead(c, ex, `status ${status}`);
    if (headers.length > MAX_HEADER_FIELDS * 2) return this.badHead(c, ex, 'too many header fields');
    for (let i = 1; i < headers.length; i += 2)
      if (INVALID_VALUE_CHAR.test(headers[i]!)) return this.badHead(c, ex, 'invalid header value');
    if (status < 200) {
      c.interim = true; // 100 Continue and friends: the final head follows on this exchange
      return 1;
    }
    c.keepAlive = keepAlive;
    c.deadline = Date.now() + this.o.bodyTimeoutMs;
    c.deadlineCode = 'UPSTREAM_BODY_TIMEOUT';
    if (c.noBody) {
      ex.handler.onHeaders(status, headers, c.resume);
      return 1;
    }
    const length = status === 204 || status === 304 ? 0 : contentLengthBody(headers);
    ex.handler.onHeaders(status, headers, c.resume);
    if (length === 0 || ex.done) return 0;
    c.rawLeft = length;
    return STOP_AFTER_HEAD;
  }

  onHeaderPart(c: Conn, part: string[]): void {
    c.headerParts = c.headerParts ? c.headerParts.concat(part) : part;
  }

  onBody(c: Conn, chunk: Buffer): void {
    const ex = c.ex;
    if (!ex || ex.done || c.interim || c.msgDone) return;
    this.deliver(c, ex, chunk);
  }

  onMessageComplete(c: Conn): void {
    // Trailers arrive as header fields at the end: not forwarded, and not the next head's.
    c.headerParts = undefined;
    // llhttp ends the message it stopped after the head; its body is still ours to read.
    if (c.rawLeft >= 0) return;
    if (c.interim) {
      c.interim = false;
      return;
    }
    if (c.ex && !c.ex.done) c.msgDone = true;
  }

  private badHead(c: Conn, ex: Exchange, why: string): number {
    this.bad(c, ex, why);
    return 1;
  }

  private deliver(c: Conn, ex: Exchange, chunk: Buffer): void {
    c.deadline = Date.now() + this.o.bodyTimeoutMs;
    if (!ex.handler.onData(chunk) && !ex.done) c.socket.pause();
  }

  private complete(c: Conn, ex: Exchange, keep: boolean): void {
    const handler = ex.end();
    c.ex = undefined;
    c.stopBody?.();
    if (keep) this.release(c);
    else c.socket.destroy();
    try {
      handler.onComplete();
    } catch {
      // The response was complete and the connection already settled; the handler's own failure
      // is its client's, and nothing here may end the process.
    }
  }

  /** A handler threw while its exchange was running: fail that exchange, drop the connection. */
  private crashed(c: Conn, ex: Exchange, err: unknown): void {
    if (c.ex === ex) c.ex = undefined;
    c.socket.destroy();
    this.fail(ex, err instanceof Error ? err : new Error(String(err)));
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
    if (ex && !ex.done && !c.socket.destroyed && c.rawLeft >= 0) {
      // Closed inside a Content-Length body: llhttp's finish() fails such a message too.
      this.bad(c, ex, `closed ${c.rawLeft} bytes before the end of the body`);
    } else if (ex && !ex.done && !c.socket.destroyed) {
      // The end of a body delimited by the connection's close, or of nothing: llhttp decides.
      let r: number | Error | undefined;
      try {
        r = c.parser.finish();
      } catch (err) {
        this.crashed(c, ex, err);
        return;
      }
      this.afterParse(c, ex, r instanceof Error ? r : undefined, true);
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
    try {
      ex.end().onError(err);
    } catch {
      // Called from timers and socket events too: a handler's own failure must not reach the
      // event loop (it would end the process, every site with it). Its exchange is over already.
    }
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
