/**
 * The bridge against a real OTLP/gRPC receiver (grpc-js + the official OTLP protos), over real
 * HTTP on loopback: formats, validation, re-batching, backpressure, retries and shutdown.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { lookupHost } from '@wpfarm/common/registry/schema';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type Bridge, createBridge } from '../src/bridge/app.ts';
import { type BridgeConfig, loadBridgeConfig } from '../src/bridge/config.ts';
import { encodeRequest } from '../src/bridge/otlp.ts';
import { type OtlpReceiver, startOtlpReceiver } from '../src/testing/otlp-receiver.ts';

const TOKEN = 'bridge-test-token-0123456789';
const REGISTRY = join(import.meta.dirname, '../../infra/registry/sites.yaml');
const logger = pino({ level: 'silent' });

const open: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.stop();
});

function config(sinkEnv: Record<string, string>, extra: Record<string, string> = {}): BridgeConfig {
  return loadBridgeConfig({
    BRIDGE_TOKEN: TOKEN,
    BRIDGE_PORT: '0',
    BRIDGE_BATCH_DELAY_MS: '20',
    BRIDGE_RETRY_INITIAL_MS: '20',
    BRIDGE_RETRY_MAX_MS: '100',
    BRIDGE_SHUTDOWN_MS: '3000',
    ...sinkEnv,
    ...extra,
  });
}

async function startBridge(
  receiver: OtlpReceiver | undefined,
  extra: Record<string, string> = {},
  sinkEnv?: Record<string, string>,
): Promise<{ bridge: Bridge; url: string }> {
  const registry = await loadRegistry(REGISTRY);
  const bridge = createBridge({
    config: config(sinkEnv ?? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver?.endpoint ?? '' }, extra),
    logger,
    siteOf: (h) => lookupHost(registry, h)?.site.id,
  });
  const port = await bridge.listen();
  open.push({ stop: () => bridge.close() });
  return { bridge, url: `http://127.0.0.1:${port}` };
}

async function receiver(port = 0): Promise<OtlpReceiver> {
  const r = await startOtlpReceiver(port);
  open.push(r);
  return r;
}

interface JsonSpanOpts {
  attributes?: { key: string; value: Record<string, unknown> }[];
  traceId?: string;
}
function jsonSpan(o: JsonSpanOpts = {}) {
  return {
    traceId: o.traceId ?? randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    name: 'GET',
    kind: 2,
    startTimeUnixNano: '1763800000000000000',
    endTimeUnixNano: '1763800000005000000',
    attributes: o.attributes ?? [{ key: 'http.request.method', value: { stringValue: 'GET' } }],
    status: { code: 0 },
  };
}
function jsonBody(spans: ReturnType<typeof jsonSpan>[]) {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'edge-worker' } }] },
        scopeSpans: [{ scope: { name: 'edge' }, spans }],
      },
    ],
  };
}

function post(url: string, body: Buffer | string, headers: Record<string, string> = {}) {
  return fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body,
  });
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  return sum;
}

describe('POST /v1/traces → OTLP/gRPC', () => {
  it('delivers a JSON batch with its ids, cleaned attributes and the site id from the registry', async () => {
    const rx = await receiver();
    const { url } = await startBridge(rx, { BRIDGE_REDACT_QUERY: 'true' });
    const span = jsonSpan({
      attributes: [
        { key: 'url.scheme', value: { stringValue: 'https:' } },
        { key: 'server.address', value: { stringValue: 'www.alpha.farm.test' } },
        { key: 'url.full', value: { stringValue: 'https://alpha.test/p?email=a%40b.c#top' } },
        { key: 'url.query', value: { stringValue: 'email=a%40b.c' } },
        { key: 'http.response.body.size', value: { stringValue: '46123' } },
        { key: 'http.response.status_code', value: { intValue: '200' } },
      ],
    });
    const res = await post(url, JSON.stringify(jsonBody([span])));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    await until(() => rx.spans.length === 1, 'the span');
    const got = rx.spans[0]!;
    expect(got.traceId).toBe(span.traceId);
    expect(got.spanId).toBe(span.spanId);
    expect(got.kind).toBe(2);
    expect(got.resource['service.name']).toBe('edge-worker');
    expect(got.attributes).toMatchObject({
      'url.scheme': 'https',
      'url.full': 'https://alpha.test/p?REDACTED#top',
      'url.query': 'REDACTED',
      'http.response.body.size': 46123,
      'http.response.status_code': 200,
      'site.id': 'alpha',
    });
  });

  it('keeps url.full whole when redaction is off, and leaves an explicit site.id alone', async () => {
    const rx = await receiver();
    const { url } = await startBridge(rx);
    const span = jsonSpan({
      attributes: [
        { key: 'url.full', value: { stringValue: 'https://alpha.test/?s=x' } },
        { key: 'server.address', value: { stringValue: 'alpha.farm.test' } },
        { key: 'site.id', value: { stringValue: 'given' } },
      ],
    });
    expect((await post(url, JSON.stringify(jsonBody([span])))).status).toBe(200);
    await until(() => rx.spans.length === 1, 'the span');
    expect(rx.spans[0]!.attributes['url.full']).toBe('https://alpha.test/?s=x');
    expect(rx.spans[0]!.attributes['site.id']).toBe('given');
  });

  it('accepts protobuf, gzip JSON and gzip protobuf', async () => {
    const rx = await receiver();
    const { url } = await startBridge(rx);
    const traceId = randomBytes(16).toString('hex');
    const pb = Buffer.from(
      encodeRequest({
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: Buffer.from(traceId, 'hex'),
                    spanId: randomBytes(8),
                    name: 'pb',
                    kind: 3,
                    startTimeUnixNano: '1763800000000000000',
                    endTimeUnixNano: '1763800000000100000',
                  },
                ],
              },
            ],
          },
        ],
      }),
    );
    const pbRes = await post(url, pb, { 'content-type': 'application/x-protobuf' });
    expect(pbRes.status).toBe(200);
    expect(pbRes.headers.get('content-type')).toBe('application/x-protobuf');
    const gzJson = await post(url, gzipSync(JSON.stringify(jsonBody([jsonSpan({ traceId })]))), {
      'content-encoding': 'gzip',
    });
    expect(gzJson.status).toBe(200);
    const gzPb = await post(url, gzipSync(pb), {
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    expect(gzPb.status).toBe(200);
    await until(() => rx.spans.length === 3, 'three spans');
    expect(rx.spans.every((s) => s.traceId === traceId)).toBe(true);
    expect(rx.spans.filter((s) => s.name === 'pb')).toHaveLength(2);
  });

  it('re-batches: many small requests leave in few export calls, none larger than the batch size', async () => {
    const rx = await receiver();
    const { url } = await startBridge(rx, { BRIDGE_BATCH_SPANS: '500', BRIDGE_BATCH_DELAY_MS: '200' });
    await Promise.all(
      Array.from({ length: 40 }, () =>
        post(url, JSON.stringify(jsonBody(Array.from({ length: 25 }, () => jsonSpan())))),
      ),
    );
    const big = await post(url, JSON.stringify(jsonBody(Array.from({ length: 1200 }, () => jsonSpan()))));
    expect(big.status).toBe(200);
    await until(() => rx.spans.length === 2200, '2200 spans');
    expect(Math.max(...rx.batchSizes)).toBeLessThanOrEqual(500);
    expect(rx.calls).toBeLessThan(20);
    expect(new Set(rx.spans.map((s) => s.spanId)).size).toBe(2200);
  });
});

describe('bad input gets a clear error and queues nothing', () => {
  it.each([
    ['not JSON', 400, '{"resourceSpans": [', {}, /not JSON/],
    [
      'a short trace id',
      400,
      JSON.stringify(jsonBody([{ ...jsonSpan(), traceId: 'abc' }])),
      {},
      /spans\[0\]\.traceId: expected 32 hex/,
    ],
    [
      'an all-zero span id',
      400,
      JSON.stringify(jsonBody([{ ...jsonSpan(), spanId: '0000000000000000' }])),
      {},
      /spanId: all zero/,
    ],
    [
      'a kind out of range',
      400,
      JSON.stringify(jsonBody([{ ...jsonSpan(), kind: 9 }])),
      {},
      /kind: expected an integer 0\.\.5/,
    ],
    [
      'a string for an array',
      400,
      JSON.stringify({ resourceSpans: 'x' }),
      {},
      /resourceSpans: expected an array/,
    ],
    [
      'protobuf garbage',
      400,
      Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 1]),
      { 'content-type': 'application/x-protobuf' },
      /not a protobuf/,
    ],
    ['broken gzip', 400, Buffer.from('not gzip'), { 'content-encoding': 'gzip' }, /not valid gzip/],
    ['text/plain', 415, 'x', { 'content-type': 'text/plain' }, /content-type/],
    ['brotli', 415, 'x', { 'content-encoding': 'br' }, /content-encoding/],
    ['no token', 401, '{}', { authorization: '' }, /token/],
    ['a wrong token', 401, '{}', { authorization: 'Bearer bridge-test-token-0123456780' }, /token/],
    ['another scheme', 401, '{}', { authorization: `Basic ${TOKEN}` }, /token/],
  ] as const)('%s → %i', async (_what, status, body, headers, message) => {
    const rx = await receiver();
    const { url, bridge } = await startBridge(rx);
    const res = await post(url, body as string, headers as Record<string, string>);
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toMatch(message);
    expect(bridge.queue.spans).toBe(0);
    expect(await metric(url, `bridge_requests_total{code="${status}"}`)).toBe(1);
  });

  it('the Bearer scheme is case-insensitive (RFC 9110), the token is not', async () => {
    const rx = await receiver();
    const { url } = await startBridge(rx);
    const body = JSON.stringify(jsonBody([jsonSpan()]));
    expect((await post(url, body, { authorization: `bearer ${TOKEN}` })).status).toBe(200);
    expect((await post(url, body, { authorization: `BEARER ${TOKEN}` })).status).toBe(200);
    expect((await post(url, body, { authorization: `bearer ${TOKEN.toUpperCase()}` })).status).toBe(401);
  });

  it('a connection that never sends a byte is answered 408 and closed after the headers timeout', async () => {
    const { url } = await startBridge(await receiver(), { BRIDGE_HEADERS_TIMEOUT_MS: '300' });
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    let data = '';
    socket.on('data', (d) => (data += d));
    await new Promise((r) => socket.on('close', r));
    expect(data).toMatch(/^HTTP\/1\.1 408/);
  });

  it('connections over BRIDGE_MAX_CONNECTIONS are closed on accept and counted', async () => {
    const { url } = await startBridge(await receiver(), { BRIDGE_MAX_CONNECTIONS: '2' });
    const port = Number(new URL(url).port);
    const held = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
    await Promise.all(held.map((s) => new Promise((r) => s.on('connect', r))));
    await new Promise((r) => setTimeout(r, 50));
    const third = connect(port, '127.0.0.1');
    third.on('error', () => {});
    await new Promise((r) => third.on('close', r));
    const closed = held.map((s) => new Promise((r) => s.on('close', r)));
    for (const s of held) s.destroy();
    await Promise.all(closed);
    // The server hears of the closes a moment later: until then a scrape is over the cap too.
    let refused = Number.NaN;
    for (let i = 0; i < 50 && Number.isNaN(refused); i++)
      refused = await metric(url, 'bridge_connections_refused_total').catch(() => Number.NaN);
    expect(refused).toBeGreaterThanOrEqual(1);
  });

  it('413 for a body or a decompressed body over the limit', async () => {
    const rx = await receiver();
    const { url } = await startBridge(rx, { BRIDGE_MAX_BODY_BYTES: '65536' });
    expect((await post(url, 'x'.repeat(70_000))).status).toBe(413);
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    expect(bomb.length).toBeLessThan(65_536);
    const res = await post(url, bomb, { 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/decompressed/);
    expect(rx.calls).toBe(0);
  });

  it('the config names every bad variable, never the token', () => {
    const problems = () => loadBridgeConfig({ BRIDGE_TOKEN: 'tok-sEcReT', BRIDGE_PORT: 'x' });
    expect(problems).toThrow(/BRIDGE_TOKEN is shorter than 16/);
    expect(problems).toThrow(/BRIDGE_PORT must be a whole number/);
    expect(problems).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT .* or TELEMETRY_FILE/);
    try {
      loadBridgeConfig({ BRIDGE_TOKEN: 'tok-sEcReT' });
    } catch (err) {
      expect((err as Error).message).not.toContain('sEcReT');
    }
  });
});

describe('backpressure, retries and shutdown', () => {
  it('a full queue answers 429 with Retry-After; every acknowledged span is delivered once the collector is back', async () => {
    const rx = await receiver();
    rx.mode = 'unavailable';
    const { url, bridge } = await startBridge(rx, {
      BRIDGE_QUEUE_MAX_SPANS: '1000',
      BRIDGE_BATCH_SPANS: '100',
    });
    const acknowledged = new Set<string>();
    const send = async (n: number) => {
      const spans = Array.from({ length: n }, () => jsonSpan());
      const res = await post(url, JSON.stringify(jsonBody(spans)));
      if (res.status === 200) for (const s of spans) acknowledged.add(s.spanId);
      return res;
    };
    for (let i = 0; i < 9; i++) expect((await send(100)).status).toBe(200);
    expect((await send(50)).status).toBe(200);
    // 950 owed: 100 more do not fit. Parsed, refused whole, counted as dropped.
    const late = await send(100);
    expect(late.status).toBe(429);
    expect(Number(late.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await metric(url, 'bridge_spans_dropped_total{reason="queue_full"}')).toBe(100);
    expect((await send(50)).status).toBe(200);
    // Full: refused before the body is read or parsed.
    const early = await send(1);
    expect(early.status).toBe(429);
    expect(await metric(url, 'bridge_spans_dropped_total{reason="queue_full"}')).toBe(100);
    expect(await metric(url, 'bridge_requests_total{code="429"}')).toBe(2);
    expect(acknowledged.size).toBe(1000);
    await until(() => rx.calls > 3, 'retries against the unavailable receiver');
    expect(await metric(url, 'bridge_spans_retried_total')).toBeGreaterThan(0);

    rx.mode = 'ok';
    await until(() => rx.spans.length >= 1000, 'the acknowledged spans');
    expect(new Set(rx.spans.map((s) => s.spanId))).toEqual(acknowledged);
    await until(() => bridge.queue.spans === 0, 'the queue to empty');
    expect(await metric(url, 'bridge_spans_exported_total')).toBe(1000);
    expect((await post(url, JSON.stringify(jsonBody([jsonSpan()])))).status).toBe(200);
  });

  it('an early 429 keeps the connection: the next request reuses the socket', async () => {
    const rx = await receiver();
    rx.mode = 'unavailable';
    const { url } = await startBridge(rx, {
      BRIDGE_QUEUE_MAX_SPANS: '100',
      BRIDGE_BATCH_SPANS: '100',
      BRIDGE_SHUTDOWN_MS: '100',
    });
    expect(
      (await post(url, JSON.stringify(jsonBody(Array.from({ length: 100 }, () => jsonSpan()))))).status,
    ).toBe(200);
    const { Agent, request } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify(jsonBody([jsonSpan()]));
    const once = () =>
      new Promise<{ status: number; reused: boolean }>((resolve, reject) => {
        const req = request(`${url}/v1/traces`, {
          method: 'POST',
          agent,
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.on('error', reject);
        req.end(body);
      });
    expect(await once()).toEqual({ status: 429, reused: false });
    expect(await once()).toEqual({ status: 429, reused: true });
    agent.destroy();
  });

  it('collector down, then up on the same port: spans accepted meanwhile arrive after retry', async () => {
    const first = await startOtlpReceiver();
    const port = first.port;
    const { url } = await startBridge(first);
    await first.stop();
    const spans = Array.from({ length: 50 }, () => jsonSpan());
    expect((await post(url, JSON.stringify(jsonBody(spans)))).status).toBe(200);
    const retried = async () => (await metric(url, 'bridge_spans_retried_total')) > 0;
    const end = Date.now() + 10_000;
    while (!(await retried())) {
      if (Date.now() > end) throw new Error('no retry seen');
      await new Promise((r) => setTimeout(r, 20));
    }
    const second = await receiver(port);
    await until(() => second.spans.length === 50, 'delivery after the restart');
    expect(new Set(second.spans.map((s) => s.spanId))).toEqual(new Set(spans.map((s) => s.spanId)));
  });

  it('partial rejections and non-retryable refusals are counted as dropped, not retried', async () => {
    const rx = await receiver();
    rx.mode = { rejectEvery: 4 };
    const { url } = await startBridge(rx);
    expect(
      (await post(url, JSON.stringify(jsonBody(Array.from({ length: 8 }, () => jsonSpan()))))).status,
    ).toBe(200);
    await until(() => rx.spans.length === 6, 'the accepted six');
    await until(() => rx.calls === 1, 'one call');
    rx.mode = 'invalid';
    expect((await post(url, JSON.stringify(jsonBody([jsonSpan(), jsonSpan()])))).status).toBe(200);
    await until(() => rx.calls === 2, 'the refused call');
    await new Promise((r) => setTimeout(r, 150));
    expect(rx.calls).toBe(2);
    expect(await metric(url, 'bridge_spans_dropped_total{reason="rejected"}')).toBe(2);
    expect(await metric(url, 'bridge_spans_dropped_total{reason="refused"}')).toBe(2);
    expect(await metric(url, 'bridge_spans_exported_total')).toBe(6);
  });

  it('close() answers 503 to new spans, delivers what is queued, then stops', async () => {
    const rx = await receiver();
    const { url, bridge } = await startBridge(rx, {
      BRIDGE_BATCH_DELAY_MS: '60000',
      BRIDGE_BATCH_SPANS: '1000',
    });
    expect(
      (await post(url, JSON.stringify(jsonBody(Array.from({ length: 10 }, () => jsonSpan()))))).status,
    ).toBe(200);
    expect(rx.calls).toBe(0); // waiting for a full batch or the (long) delay
    const closing = bridge.close();
    await closing;
    expect(rx.spans).toHaveLength(10);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });

  it('close() with the collector down stops at the deadline and counts the rest as dropped (shutdown)', async () => {
    const rx = await receiver();
    rx.mode = 'unavailable';
    const { url, bridge } = await startBridge(rx, { BRIDGE_SHUTDOWN_MS: '300' });
    expect((await post(url, JSON.stringify(jsonBody([jsonSpan(), jsonSpan(), jsonSpan()])))).status).toBe(
      200,
    );
    const health = fetch(`${url}/healthz`).then((r) => r.json() as Promise<{ status: string }>);
    expect((await health).status).toBe('ok');
    let dropped = 0;
    bridge.metrics.dropped.reset();
    await bridge.close();
    for (const v of (await bridge.metrics.dropped.get()).values)
      if (v.labels.reason === 'shutdown') dropped += v.value;
    expect(dropped).toBe(3);
    expect(bridge.queue.spans).toBe(0);
  });
});

describe('file sink (the local farm without a collector)', () => {
  it('writes one JSON line per span in the preload format', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'bridge-')), 'traces.jsonl');
    const { url } = await startBridge(undefined, {}, { TELEMETRY_FILE: file });
    const span = jsonSpan({
      attributes: [{ key: 'server.address', value: { stringValue: 'shop.beta.farm.test' } }],
    });
    expect((await post(url, JSON.stringify(jsonBody([span])))).status).toBe(200);
    let lines: Record<string, unknown>[] = [];
    await until(() => {
      try {
        lines = readFileSync(file, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l));
      } catch {
        return false;
      }
      return lines.length === 1;
    }, 'the line');
    expect(lines[0]).toMatchObject({
      traceId: span.traceId,
      spanId: span.spanId,
      kind: 'SERVER',
      service: 'edge-worker',
      durationMs: 5,
      attributes: { 'site.id': 'beta' },
    });
  });
});
