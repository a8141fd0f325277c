import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type PoolOptions,
  requestStatus,
  type UpstreamError,
  type UpstreamExchange,
  UpstreamPool,
  type UpstreamRequest,
} from './upstream.ts';

const OPTS: PoolOptions = {
  connections: 4,
  connectTimeoutMs: 1000,
  headersTimeoutMs: 1000,
  bodyTimeoutMs: 1000,
};
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((c) => c()));
});

function listen<T extends HttpServer | NetServer>(server: T): Promise<string> {
  closers.push(
    () =>
      new Promise((r) => {
        (server as HttpServer).closeAllConnections?.();
        server.close(r);
      }),
  );
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address() as { port: number };
      resolve(`http://127.0.0.1:${a.port}`);
    }),
  );
}

function pool(origin: string, opts: Partial<PoolOptions> = {}): UpstreamPool {
  const p = new UpstreamPool(origin, { ...OPTS, ...opts });
  closers.push(() => p.close());
  return p;
}

/** A server answering every request on a connection with `reply(head)` (raw bytes, our framing). */
async function rawServer(
  reply: (socket: Socket, head: string) => void,
): Promise<{ origin: string; accepted: () => number }> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      let end = buf.indexOf('\r\n\r\n');
      while (end !== -1) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        reply(socket, head);
        end = buf.indexOf('\r\n\r\n');
      }
    });
    socket.on('error', () => {});
  });
  closers.push(async () => {
    for (const s of sockets) s.destroy();
  });
  return { origin: await listen(server), accepted: () => accepted };
}

interface Got {
  status: number;
  headers: string[];
  body: string;
}

function send(p: UpstreamPool, req: Partial<UpstreamRequest> = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    let status = 0;
    let headers: string[] = [];
    const chunks: Buffer[] = [];
    p.dispatch(
      { method: 'GET', path: '/', headers: ['host', 'a.test'], body: null, ...req },
      {
        onConnect() {},
        onHeaders(s, h) {
          status = s;
          headers = h;
        },
        onData(c) {
          chunks.push(Buffer.from(c));
          return true;
        },
        onComplete: () => resolve({ status, headers, body: Buffer.concat(chunks).toString() }),
        onError: reject,
      },
    );
  });
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: UpstreamError) => e.code,
  );

describe('UpstreamPool against node:http', () => {
  it('keeps the connection alive across requests, and passes headers both ways', async () => {
    const seen: string[] = [];
    const origin = await listen(
      createHttpServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers['x-hello']}`);
        res.writeHead(200, { 'content-length': 5, 'X-Cache': 'HIT' }).end('hello');
      }),
    );
    const p = pool(origin);
    const a = await send(p, { path: '/a?x=1', headers: ['host', 'a.test', 'X-Hello', 'there'] });
    const b = await send(p, { path: '/b' });
    expect([a.status, a.body, b.body]).toEqual([200, 'hello', 'hello']);
    expect(a.headers).toContain('X-Cache');
    expect(seen).toEqual(['GET /a?x=1 there', 'GET /b undefined']);
    expect(p.size).toBe(1);
  });

  it('decodes a chunked response written in pieces', async () => {
    const origin = await listen(
      createHttpServer(async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        for (const part of ['one ', 'two ', 'three']) {
          res.write(part);
          await sleep(5);
        }
        res.end();
      }),
    );
    const p = pool(origin);
    expect((await send(p)).body).toBe('one two three');
    expect((await send(p)).body).toBe('one two three');
    expect(p.size).toBe(1);
  });

  it('HEAD, 204 and 304 end at the head; the connection stays usable', async () => {
    const origin = await listen(
      createHttpServer((req, res) => {
        if (req.url === '/204') res.writeHead(204).end();
        else if (req.url === '/304') res.writeHead(304, { etag: '"x"' }).end();
        else
          res
            .writeHead(200, { 'content-length': 46_000 })
            .end(req.method === 'HEAD' ? undefined : 'x'.repeat(46_000));
      }),
    );
    const p = pool(origin, { connections: 1 });
    expect((await send(p, { method: 'HEAD' })).status).toBe(200);
    expect((await send(p, { path: '/204' })).status).toBe(204);
    expect((await send(p, { path: '/304' })).status).toBe(304);
    expect((await send(p)).body.length).toBe(46_000);
    expect(p.size).toBe(1);
  });

  it('streams request bodies: chunked when the length is unknown, as is with content-length', async () => {
    const origin = await listen(
      createHttpServer((req, res) => {
        const parts: Buffer[] = [];
        req.on('data', (d) => parts.push(d));
        req.on('end', () => {
          const body = Buffer.concat(parts).toString();
          res.end(`${req.headers['transfer-encoding'] ?? 'length'}:${body}`);
        });
      }),
    );
    const p = pool(origin);
    async function* gen() {
      yield Buffer.from('ab');
      await sleep(5);
      yield Buffer.from('cd');
    }
    const chunked = await send(p, { method: 'POST', body: Readable.from(gen()) });
    expect(chunked.body).toBe('chunked:abcd');
    const sized = await send(p, {
      method: 'POST',
      headers: ['host', 'a.test', 'content-length', '4'],
      body: Readable.from([Buffer.from('wxyz')]),
    });
    expect(sized.body).toBe('length:wxyz');
  });

  it('queues beyond `connections` and serves every request in turn', async () => {
    const origin = await listen(createHttpServer((req, res) => setTimeout(() => res.end(req.url), 10)));
    const p = pool(origin, { connections: 1 });
    const got = await Promise.all(['/1', '/2', '/3'].map((path) => send(p, { path })));
    expect(got.map((g) => g.body)).toEqual(['/1', '/2', '/3']);
    expect(p.size).toBe(1);
  });

  it('pauses the upstream while the handler says false, and resumes on request', async () => {
    const size = 4 * 1024 * 1024;
    const origin = await listen(createHttpServer((_req, res) => res.end(Buffer.alloc(size, 97))));
    const p = pool(origin);
    let received = 0;
    let resume: () => void = () => {};
    const done = new Promise<void>((resolve, reject) =>
      p.dispatch(
        { method: 'GET', path: '/', headers: ['host', 'a'], body: null },
        {
          onConnect() {},
          onHeaders(_s, _h, r) {
            resume = r;
          },
          onData(c) {
            received += c.length;
            return false;
          },
          onComplete: resolve,
          onError: reject,
        },
      ),
    );
    await sleep(150);
    const whilePaused = received;
    await sleep(100);
    expect(received).toBe(whilePaused); // nothing read while paused
    expect(received).toBeLessThan(size);
    const timer = setInterval(() => resume(), 1);
    await done;
    clearInterval(timer);
    expect(received).toBe(size);
  });

  it('an exchange aborted after its end stays ended: no call reaches the handler', async () => {
    const origin = await listen(createHttpServer((_req, res) => res.end('x')));
    const p = pool(origin);
    const calls: string[] = [];
    let held: UpstreamExchange | undefined;
    await new Promise<void>((resolve) =>
      p.dispatch(
        { method: 'GET', path: '/', headers: ['host', 'a'], body: null },
        {
          onConnect: (x) => {
            held = x;
          },
          onHeaders: () => calls.push('headers'),
          onData: () => true,
          onComplete: () => {
            calls.push('complete');
            resolve();
          },
          onError: () => calls.push('error'),
        },
      ),
    );
    held!.abort(new Error('late'));
    await sleep(10);
    expect(calls).toEqual(['headers', 'complete']);
    expect((await send(p)).body).toBe('x'); // and the connection it used still serves
    expect(p.size).toBe(1);
  });

  it('refuses a header value with a line break: nothing is sent', async () => {
    let requests = 0;
    const origin = await listen(
      createHttpServer((_req, res) => {
        requests++;
        res.end();
      }),
    );
    const p = pool(origin);
    expect(await code(send(p, { headers: ['host', 'a', 'x-evil', 'a\r\nx-injected: 1'] }))).toBe(
      'UPSTREAM_BAD_REQUEST',
    );
    expect(await code(send(p, { path: '/a b' }))).toBe('UPSTREAM_BAD_REQUEST');
    expect(requests).toBe(0);
  });

  it('requestStatus answers the status of a probe', async () => {
    const origin = await listen(
      createHttpServer((req, res) => res.writeHead(req.url === '/ok' ? 200 : 503).end('x')),
    );
    const p = pool(origin, { connections: 1 });
    expect(await requestStatus(p, 'GET', '/ok')).toBe(200);
    expect(await requestStatus(p, 'GET', '/down')).toBe(503);
  });
});

describe('UpstreamPool framing (raw server)', () => {
  it('reads a close-delimited body to the end and does not reuse that connection', async () => {
    const s = await rawServer((socket) =>
      socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end'),
    );
    const p = pool(s.origin);
    expect((await send(p)).body).toBe('until the end');
    expect((await send(p)).body).toBe('until the end');
    expect(s.accepted()).toBe(2);
  });

  it('skips a 100 Continue, reads trailers, and survives a response sent one byte at a time', async () => {
    const response =
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n' +
      '3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nx-trailer: t\r\n\r\n';
    const s = await rawServer(async (socket) => {
      for (const ch of response) {
        socket.write(ch);
        await sleep(0);
      }
    });
    const p = pool(s.origin);
    const got = await send(p);
    expect([got.status, got.body]).toEqual([200, 'abcde']);
    expect((await send(p)).body).toBe('abcde');
    expect(s.accepted()).toBe(1);
  });

  it("a response's trailers never become the next response's headers on the connection", async () => {
    // llhttp hands trailers over through the same callback as the fields of a long head.
    const s = await rawServer((socket) =>
      socket.write(
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-trailer: t\r\n\r\n',
      ),
    );
    const p = pool(s.origin);
    await send(p);
    expect((await send(p)).headers).toEqual(['transfer-encoding', 'chunked']);
    expect(s.accepted()).toBe(1);
  });

  it('hands on a Content-Length body as slices of the reads, not copies, and parses the next head afresh', async () => {
    // llhttp's kOnBody copies every chunk into a new Buffer: at 46 KB pages, the benchmark's
    // mark-compacts (docs/decisions/router-upstream-client.md).
    const reads: Buffer[] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        const path = chunk.toString('latin1').split(' ')[1]!;
        const body = `body of ${path}`;
        const bytes = Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
        const cut = bytes.length - 4;
        reads.push(bytes.subarray(0, cut), bytes.subarray(cut));
        setImmediate(() => {
          socket.push(reads.at(-2));
          setImmediate(() => socket.push(reads.at(-1)));
        });
        cb();
      },
    });
    process.nextTick(() => socket.emit('connect'));
    const p = pool('http://127.0.0.1:1', { connect: () => socket as Socket });
    const chunks: Buffer[] = [];
    const get = (path: string) =>
      new Promise<void>((resolve, reject) =>
        p.dispatch(
          { method: 'GET', path, headers: ['host', 'a.test'], body: null },
          {
            onConnect() {},
            onHeaders() {},
            onData: (c) => chunks.push(c) > 0,
            onComplete: resolve,
            onError: reject,
          },
        ),
      );
    await get('/one');
    await get('/two');
    expect(chunks.map(String).join('')).toBe('body of /onebody of /two');
    expect(chunks.every((c) => reads.some((r) => r.buffer === c.buffer))).toBe(true);
    expect(p.size).toBe(1);
  });

  it('rejects malformed responses with UPSTREAM_BAD_RESPONSE', async () => {
    const replies = [
      'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ncontent-length: 4\r\n\r\nabcd',
      'HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n',
      'SMTP ready\r\n\r\n',
      'HTTP/1.1 200 OK\r\n folded: header\r\n\r\n',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n',
      `HTTP/1.1 200 OK\r\nx-big: ${'a'.repeat(70_000)}\r\n\r\n`,
    ];
    for (const reply of replies) {
      const s = await rawServer((socket) => socket.write(reply));
      expect(await code(send(pool(s.origin))), reply.slice(0, 40)).toBe('UPSTREAM_BAD_RESPONSE');
    }
  });

  it('times out a silent upstream (headers) and one that stalls mid-body', async () => {
    const silent = await rawServer(() => {});
    expect(await code(send(pool(silent.origin, { headersTimeoutMs: 100 })))).toBe('UPSTREAM_HEADERS_TIMEOUT');
    const stall = await rawServer((socket) =>
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'),
    );
    expect(await code(send(pool(stall.origin, { bodyTimeoutMs: 100 })))).toBe('UPSTREAM_BODY_TIMEOUT');
  });

  it('a handler that throws on a bad response or a timeout fails its exchange only; the pool serves on', async () => {
    const bad = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\nx-a: \x01\r\n\r\n'));
    const silent = await rawServer(() => {});
    const throwing = (p: UpstreamPool) =>
      new Promise<void>((resolve) =>
        p.dispatch(
          { method: 'GET', path: '/', headers: ['host', 'a'], body: null },
          {
            onConnect() {},
            onHeaders() {},
            onData: () => true,
            onComplete() {},
            onError() {
              setTimeout(resolve, 20);
              throw new Error('handler bug');
            },
          },
        ),
      );
    await throwing(pool(bad.origin));
    await throwing(pool(silent.origin, { headersTimeoutMs: 50 }));
    const fine = await rawServer((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'));
    expect((await send(pool(fine.origin))).body).toBe('ok');
  });

  it('passes the socket error code of a refused connection', async () => {
    const s = await rawServer(() => {});
    const origin = s.origin;
    await Promise.all(closers.splice(0).map((c) => c())); // nothing listens there any more
    expect(await code(send(pool(origin)))).toBe('ECONNREFUSED');
  });

  it('re-sends an idempotent request once when a kept-alive connection dies before answering; never a POST', async () => {
    // Each connection answers its first request and drops the second one unanswered (as a server
    // whose idle timeout fired just as the request left).
    const perConn = new WeakMap<Socket, number>();
    const s = await rawServer((socket) => {
      const n = (perConn.get(socket) ?? 0) + 1;
      perConn.set(socket, n);
      if (n === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok');
      else socket.destroy();
    });
    const p = pool(s.origin, { connections: 1, keepAliveMs: 60_000 });
    expect((await send(p)).body).toBe('ok');
    expect((await send(p)).body).toBe('ok'); // dropped on the old connection, answered on a new one
    expect(s.accepted()).toBe(2);

    const post = send(p, {
      method: 'POST',
      headers: ['host', 'a', 'content-length', '1'],
      body: Readable.from([Buffer.from('x')]),
    });
    expect(await code(post)).not.toBe('resolved');
    expect(s.accepted()).toBe(2); // not sent again
  });

  it('close() fails what is queued and running', async () => {
    const s = await rawServer(() => {});
    const p = new UpstreamPool(s.origin, { ...OPTS, connections: 1 });
    const running = code(send(p));
    const queued = code(send(p));
    await sleep(50);
    await p.close();
    expect([await running, await queued]).toEqual(['UPSTREAM_POOL_CLOSED', 'UPSTREAM_POOL_CLOSED']);
    expect(await code(send(p))).toBe('UPSTREAM_POOL_CLOSED');
  });
});

describe('UpstreamPool over TLS (https:// origin)', () => {
  it('verifies the certificate against the given CA and keeps the connection alive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'upstream-tls-'));
    closers.push(async () => rmSync(dir, { recursive: true, force: true }));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1']
        .concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'])
        .concat(['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]),
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) =>
      res.end(`tls ${req.url}`),
    );
    const port = new URL(await listen(server)).port;
    const p = pool(`https://localhost:${port}`, { ca: cert });
    expect((await send(p, { path: '/a' })).body).toBe('tls /a');
    expect((await send(p, { path: '/b' })).body).toBe('tls /b');
    expect(p.size).toBe(1);
    // Without the CA the self-signed certificate is refused.
    expect(await code(send(pool(`https://localhost:${port}`)))).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});
