import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type EdgeSpan, exportSpans, toOtlpJson } from './edge.ts';

const TID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SID = '00f067aa0ba902b7';

const sample: EdgeSpan = {
  traceId: TID,
  spanId: SID,
  name: 'GET edge',
  startMs: 1_700_000_000_123,
  endMs: 1_700_000_000_456,
  method: 'GET',
  path: '/p',
  status: 503,
  host: 'a.example',
  scheme: 'https',
  siteId: 's1',
  cacheStatus: 'MISS',
  cacheReason: 'cold',
};

describe('toOtlpJson', () => {
  it('encodes resource, ids, nanosecond times and attributes', () => {
    // biome-ignore lint/suspicious/noExplicitAny: walking a JSON document
    const doc = toOtlpJson([sample], { 'deployment.environment': 'test' }) as any;
    const rs = doc.resourceSpans[0];
    expect(rs.resource.attributes).toContainEqual({
      key: 'service.name',
      value: { stringValue: 'edge-worker' },
    });
    expect(rs.resource.attributes).toContainEqual({
      key: 'deployment.environment',
      value: { stringValue: 'test' },
    });
    const s = rs.scopeSpans[0].spans[0];
    expect(s.traceId).toBe(TID);
    expect(s.startTimeUnixNano).toBe('1700000000123000000');
    expect(s.status).toEqual({ code: 2 });
    expect(s.attributes).toContainEqual({ key: 'http.response.status_code', value: { intValue: '503' } });
    expect(s.attributes).toContainEqual({ key: 'site.id', value: { stringValue: 's1' } });
    expect(s.attributes).toContainEqual({ key: 'cache.status', value: { stringValue: 'MISS' } });
    expect(s.attributes).toContainEqual({ key: 'cache.reason', value: { stringValue: 'cold' } });
    expect(s.attributes).toContainEqual({ key: 'url.scheme', value: { stringValue: 'https' } });
  });
});

describe('exportSpans against a real HTTP server', () => {
  let server: Server;
  let url: string;
  const received: { auth?: string; body: string }[] = [];
  let reply = 200;
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        received.push({ auth: req.headers.authorization, body });
        res.statusCode = reply;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('posts OTLP JSON with the bearer token', async () => {
    reply = 200;
    const r = await exportSpans(fetch, url, 'tok', [sample]);
    expect(r).toEqual({ ok: true, status: 200 });
    const last = received.at(-1)!;
    expect(last.auth).toBe('Bearer tok');
    expect(JSON.parse(last.body).resourceSpans[0].scopeSpans[0].spans[0].spanId).toBe(SID);
  });
  it('reports HTTP errors and connection failures without throwing', async () => {
    reply = 429;
    expect(await exportSpans(fetch, url, 't', [sample])).toMatchObject({ ok: false, status: 429 });
    const r = await exportSpans(fetch, 'http://127.0.0.1:1/v1/traces', 't', [sample]);
    expect(r.ok).toBe(false);
    const r2 = await exportSpans(fetch, 'not a url', 't', [sample]);
    expect(r2.ok).toBe(false);
  });
  it('aborts after timeoutMs', async () => {
    vi.useFakeTimers();
    try {
      const hanging = ((_u: string, init: RequestInit) =>
        new Promise((_, rej) =>
          init.signal?.addEventListener('abort', () => rej(new Error('aborted'))),
        )) as typeof fetch;
      const p = exportSpans(hanging, url, 't', [sample], { timeoutMs: 500 });
      await vi.advanceTimersByTimeAsync(500);
      expect(await p).toEqual({ ok: false, error: 'timeout' });
    } finally {
      vi.useRealTimers();
    }
  });
  it('does nothing for an empty batch', async () => {
    const n = received.length;
    expect(await exportSpans(fetch, url, 't', [])).toEqual({ ok: true, status: 0 });
    expect(received.length).toBe(n);
  });
});
