/**
 * The differential rig for upstream responses: the same bytes go through node:http's client (the
 * reference: llhttp as node:http uses it) and through the router's upstream pool, each over an
 * in-memory socket that answers the request with those bytes (split where the case says), then
 * sits idle, then closes. What each made of it is compared by `verdict`.
 */
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { type PoolOptions, UpstreamPool } from '../src/upstream.ts';

/** One crafted response: its bytes, where reads split them, and the request method. */
export interface Case {
  name: string;
  bytes: Buffer;
  /** Offsets where the bytes are cut into separate reads. */
  splits?: number[];
  method?: 'GET' | 'HEAD';
}

/** What a client made of a response. */
export interface Outcome {
  /** `ok`: a complete response; `error`: refused, or the body did not complete. */
  kind: 'ok' | 'error';
  status: number;
  headers: string[];
  body: string;
  /** The connection would serve the next request (checked after every byte arrived, before close). */
  kept: boolean;
  detail: string;
  /** Router only, on a kept connection: what the next request on it got (`200 Content-Length:6 second` when clean). */
  next?: string;
}

/** What the upstream answers a second request on the same connection. */
const NEXT_RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond', 'latin1');

const tick = () => new Promise<void>((r) => setImmediate(r));

/**
 * A socket whose peer answers the first write with the case's bytes, one push per read, then stays
 * silent until `close()` ends the stream (EOF, as a server closing).
 */
class CannedSocket extends Duplex {
  private answered = false;
  private readonly parts: Buffer[];
  readonly delivered: Promise<void>;
  private markDelivered!: () => void;
  constructor(c: Case) {
    super({ allowHalfOpen: false });
    const cuts = [...new Set(c.splits ?? [])]
      .filter((n) => n > 0 && n < c.bytes.length)
      .sort((a, b) => a - b);
    this.parts = [];
    let at = 0;
    for (const cut of cuts) {
      this.parts.push(c.bytes.subarray(at, cut));
      at = cut;
    }
    this.parts.push(c.bytes.subarray(at));
    this.delivered = new Promise((r) => (this.markDelivered = r));
    // The pool waits for `connect` as from a net.Socket; node:http writes at once.
    process.nextTick(() => this.emit('connect'));
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.answered) {
      if (!chunk.toString('latin1').startsWith('GET /next ')) {
        cb();
        return;
      }
      // A second request on this connection (the pool kept it): a clean response of its own.
      setImmediate(() => {
        if (!this.destroyed) this.push(NEXT_RESPONSE);
      });
    } else {
      this.answered = true;
      setImmediate(async () => {
        for (const p of this.parts) {
          if (this.destroyed) break;
          this.push(p);
          await tick();
        }
        this.markDelivered();
      });
    }
    cb();
  }
  override _read(): void {}
  /** The server closes its side. */
  close(): void {
    if (!this.destroyed) this.push(null);
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** After the last read: a few turns for both clients to settle before looking. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await tick();
}

/** node:http's client over the canned socket (keep-alive agent, defaults otherwise). */
export async function reference(c: Case): Promise<Outcome> {
  const sock = new CannedSocket(c);
  const agent = new Agent({ keepAlive: true });
  (agent as unknown as { createConnection: () => Duplex }).createConnection = () => sock;
  const o: Outcome = { kind: 'error', status: 0, headers: [], body: '', kept: false, detail: '' };
  let res: import('node:http').IncomingMessage | undefined;
  let failed = false;
  // `complete` is set as llhttp ends the message, before any error in later bytes is reported.
  const ended = () => res?.complete === true;
  const req = request({ host: 'upstream.test', port: 80, path: '/', method: c.method ?? 'GET', agent });
  // node:http reports a parse error in bytes after a complete response to the request too; the
  // response itself was framed, so only an error before its end counts against it.
  req.on('error', (e: NodeJS.ErrnoException) => {
    if (!ended()) failed = true;
    o.detail ||= e.code ?? e.message;
  });
  req.on('response', (r) => {
    res = r;
    o.status = r.statusCode ?? 0;
    o.headers = r.rawHeaders;
    r.setEncoding('latin1');
    r.on('data', (d: string) => {
      o.body += d;
    });
    r.on('aborted', () => {
      if (!ended()) failed = true;
    });
    r.on('error', (e: NodeJS.ErrnoException) => {
      if (!ended()) failed = true;
      o.detail ||= e.code ?? e.message;
    });
  });
  req.end();
  await sock.delivered;
  await settle();
  o.kept = ended() && !failed && req.shouldKeepAlive && !sock.destroyed;
  sock.close();
  await settle();
  o.kind = ended() && !failed ? 'ok' : 'error';
  agent.destroy();
  return o;
}

/** The router's upstream pool over the canned socket. */
export async function router(c: Case, opts: Partial<PoolOptions> = {}): Promise<Outcome> {
  let sock: CannedSocket | undefined;
  const pool = new UpstreamPool('http://upstream.test:80', {
    connections: 1,
    connectTimeoutMs: 10_000,
    headersTimeoutMs: 10_000,
    bodyTimeoutMs: 10_000,
    ...opts,
    connect: () => {
      sock = new CannedSocket(c);
      return sock as unknown as Socket;
    },
  });
  const o: Outcome = { kind: 'error', status: 0, headers: [], body: '', kept: false, detail: '' };
  let completed = false;
  let failed = false;
  const done = new Promise<void>((resolve) =>
    pool.dispatch(
      { method: c.method ?? 'GET', path: '/', headers: ['host', 'upstream.test'], body: null },
      {
        onConnect() {},
        onHeaders(status, headers) {
          o.status = status;
          o.headers = headers;
        },
        onData(chunk) {
          o.body += chunk.toString('latin1');
          return true;
        },
        onComplete() {
          completed = true;
          resolve();
        },
        onError(err) {
          failed = true;
          o.detail = (err as NodeJS.ErrnoException).code ?? err.message;
          resolve();
        },
      },
    ),
  );
  await sock!.delivered;
  await settle();
  o.kept = completed && !sock!.destroyed && pool.size === 1;
  if (o.kept) o.next = await nextOnSameConnection(pool);
  sock!.close();
  await Promise.race([done, settle()]);
  await settle();
  o.kind = completed && !failed ? 'ok' : 'error';
  await pool.close();
  return o;
}

/** A second exchange on a kept connection: nothing of the first response may leak into it. */
function nextOnSameConnection(pool: UpstreamPool): Promise<string> {
  return new Promise((resolve) => {
    let status = 0;
    let fields: string[] = [];
    let body = '';
    pool.dispatch(
      { method: 'GET', path: '/next', headers: ['host', 'upstream.test'], body: null },
      {
        onConnect() {},
        onHeaders(s, h) {
          status = s;
          fields = h;
        },
        onData(chunk) {
          body += chunk.toString('latin1');
          return true;
        },
        onComplete: () => resolve(`${status} ${fields.join(':')} ${body}`),
        onError: (err) => resolve(`error ${(err as NodeJS.ErrnoException).code ?? err.message}`),
      },
    );
  });
}

/**
 * Why the router's outcome is not allowed next to node:http's, or undefined when it is: the router
 * may refuse what llhttp accepts (stricter), never forward what llhttp refuses or would not finish,
 * never hand on different bytes, and never keep a connection llhttp would not.
 */
export function verdict(ref: Outcome, got: Outcome): string | undefined {
  if (got.kind === 'ok') {
    if (ref.kind !== 'ok') return `router forwarded what node:http refused (${ref.detail})`;
    if (got.status !== ref.status) return `status ${got.status} vs ${ref.status}`;
    if (got.body !== ref.body) return `body ${JSON.stringify(got.body)} vs ${JSON.stringify(ref.body)}`;
    if (JSON.stringify(got.headers) !== JSON.stringify(ref.headers)) return 'headers differ';
  }
  if (got.kept && !ref.kept) return 'router kept a connection node:http would not reuse';
  if (got.kept && got.next !== '200 Content-Length:6 second')
    return `the next request on the kept connection got ${got.next}`;
  return undefined;
}

/** A small seeded PRNG (mulberry32): the same seed gives the same cases on every machine. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BASES: { text: string; method?: 'HEAD' }[] = [
  { text: 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\nX-Cache: HIT\r\n\r\nhello' },
  {
    text: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n5;e=1\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n',
  },
  { text: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close' },
  { text: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok' },
  { text: 'HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n' },
  { text: 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 10\r\n\r\n' },
  { text: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nnew' },
  { text: 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy' },
  { text: 'HTTP/1.1 200 OK\r\nContent-Length: 46\r\n\r\n', method: 'HEAD' },
  { text: 'HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n' },
];

/** Bytes that trip parsers: controls, whitespace variants, separators, digits, obs-text. */
const SPECIAL = [0, 1, 9, 10, 11, 12, 13, 32, 44, 48, 53, 57, 58, 59, 61, 65, 97, 127, 128, 160, 255];

/** Header lines that change framing or connection handling. */
const LINES = [
  'Content-Length: 5',
  'Content-Length: 0',
  'Content-Length: 500',
  'Content-Length: 05',
  'Content-Length: 5, 5',
  'Content-Length: +5',
  'Content-Length: 5\xa0',
  'Content-Length:\x0b5',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, gzip',
  'Transfer-Encoding: identity',
  'Transfer-Encoding: xchunked',
  'Transfer-Encoding:  chunked ',
  'transfer-encoding: CHUNKED',
  'Connection: close',
  'Connection: keep-alive',
  'Connection: upgrade',
  'Upgrade: websocket',
  'Keep-Alive: timeout=5',
  ' folded: value',
  '\tfolded',
  'Bad Name: x',
  'X-Farm-Ttl: 9999',
  'X-Null: a\x00b',
  'X-Del: a\x7fb',
  'X-Ctl: a\x01b',
  'X-Obs: caf\xe9',
  ': empty',
  'NoColon',
];

const TAILS = [
  'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled',
  '\r\n',
  'x',
  '0\r\n\r\n',
  'HTTP/1.1 200',
];

function mutate(text: string, rnd: () => number): string {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const at = (s: string) => Math.floor(rnd() * (s.length + 1));
  const lines = () => text.split('\r\n');
  switch (Math.floor(rnd() * 11)) {
    case 0: {
      const i = at(text);
      return text.slice(0, i) + String.fromCharCode(pick(SPECIAL)) + text.slice(i);
    }
    case 1: {
      const i = at(text);
      return text.slice(0, i) + text.slice(i + 1);
    }
    case 2: {
      const i = Math.floor(rnd() * text.length);
      return text.slice(0, i) + String.fromCharCode(pick(SPECIAL)) + text.slice(i + 1);
    }
    case 3: {
      const l = lines();
      const i = Math.floor(rnd() * l.length);
      l.splice(i, 0, l[i]!);
      return l.join('\r\n');
    }
    case 4: {
      const l = lines();
      l.splice(Math.floor(rnd() * l.length), 1);
      return l.join('\r\n');
    }
    case 5:
    case 6: {
      const l = lines();
      l.splice(1 + Math.floor(rnd() * 3), 0, pick(LINES));
      return l.join('\r\n');
    }
    case 7:
      return text + pick(TAILS);
    case 8:
      return text.replace(/\d+/g, (d) => (rnd() < 0.3 ? String(Number(d) + Math.floor(rnd() * 7) - 3) : d));
    case 9:
      return text.slice(0, at(text));
    default: {
      // A chunk-size line with whitespace, a sign or an extension around it.
      return text.replace(/\r\n([0-9a-f]+)(;[^\r]*)?\r\n/, (_m, size: string) => {
        const around = pick([' ', '\t', '+', ';', ';a="\x01"', ' ;x', '0', '']);
        return `\r\n${rnd() < 0.5 ? around + size : size + around}\r\n`;
      });
    }
  }
}

/** The `i`-th mutated case of a seeded run. */
export function* mutations(seed: number, count: number): Generator<Case> {
  const rnd = prng(seed);
  for (let i = 0; i < count; i++) {
    const base = BASES[Math.floor(rnd() * BASES.length)]!;
    let text = base.text;
    const n = 1 + Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) text = mutate(text, rnd);
    const bytes = Buffer.from(text, 'latin1');
    const splits = Array.from({ length: Math.floor(rnd() * 3) }, () => Math.floor(rnd() * bytes.length));
    yield {
      name: `seed ${seed} #${i}`,
      bytes,
      splits,
      method: base.method ?? (rnd() < 0.1 ? 'HEAD' : 'GET'),
    };
  }
}
