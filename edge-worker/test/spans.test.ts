/**
 * The edge's span per request, through the real telemetry bridge to a real OTLP/gRPC receiver
 * (both started by global-setup): exported in the background, never delaying or changing the
 * response, and parent of what the origin receives.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import type { ReceivedSpan } from '@wpfarm/telemetry/testing/otlp-receiver';
import { beforeAll, describe, expect, it } from 'vitest';
import worker from '../src/index.ts';
import { originCalls, seedHostMap, send } from './helpers.ts';

async function collected(traceId: string): Promise<ReceivedSpan[]> {
  const res = await fetch(`${env.ORIGIN_URL}/__front/spans`);
  return ((await res.json()) as ReceivedSpan[]).filter((s) => s.traceId === traceId);
}

/** Waits (bounded) for the bridge to hand the span to the receiver. */
async function spansOf(traceId: string, n: number): Promise<ReceivedSpan[]> {
  for (let i = 0; i < 100; i++) {
    const got = await collected(traceId);
    if (got.length >= n) return got;
    await new Promise((r) => setTimeout(r, 50));
  }
  return collected(traceId);
}

/** The trace id and span id the origin received from the edge for case `id`. */
async function originParent(id: string): Promise<{ traceId: string; spanId: string; flags: string }> {
  const [call] = await originCalls(id);
  const [, traceId = '', spanId = '', flags = ''] = (call?.headers.traceparent ?? '').split('-');
  return { traceId, spanId, flags };
}

/**
 * The spans collected for `traceId` once a sampled request (case `id`), sent after it, has
 * arrived at the receiver: anything exported for `traceId` would have arrived too.
 */
async function spansAfterASampledOne(traceId: string, id: string): Promise<ReceivedSpan[]> {
  await send(`https://shop.beta.test/${id}/?case=${id}`);
  await spansOf((await originParent(id)).traceId, 1);
  return collected(traceId);
}

beforeAll(() => seedHostMap());

describe('edge span export', () => {
  it('a sampled request exports one SERVER span whose id is the origin’s parent', async () => {
    const r = await send('https://shop.beta.test/span-sampled/?utm_source=x&case=span-sampled');
    expect(r.status).toBe(200);
    const parent = await originParent('span-sampled');
    expect(parent.flags).toBe('01');
    const spans = await spansOf(parent.traceId, 1);
    expect(spans).toHaveLength(1);
    const span = spans[0]!;
    expect(span.spanId).toBe(parent.spanId);
    expect(span.parentSpanId).toBeUndefined();
    expect(span.kind).toBe(2);
    expect(span.name).toBe('GET');
    expect(span.resource['service.name']).toBe('edge-worker');
    expect(span.attributes).toMatchObject({
      'http.request.method': 'GET',
      'url.path': '/span-sampled/',
      'url.scheme': 'https',
      'server.address': 'shop.beta.test',
      'http.response.status_code': 200,
      'site.id': 'beta',
      'cache.status': r.headers.get('x-edge-cache'),
      'cache.reason': r.headers.get('x-edge-cache-reason'),
    });
  });

  it('an unsampled request forwards flag 00 and exports nothing', async () => {
    const bindings = { ...env, TRACE_SAMPLE_RATE: '0' } as Env;
    expect(
      (await send('https://shop.beta.test/span-unsampled/?case=span-unsampled', {}, bindings)).status,
    ).toBe(200);
    const parent = await originParent('span-unsampled');
    expect(parent.flags).toBe('00');
    expect(await spansAfterASampledOne(parent.traceId, 'span-after')).toHaveLength(0);
  });

  it('without BRIDGE_URL nothing is exported', async () => {
    const bindings = { ...env, BRIDGE_URL: '' } as Env;
    await send('https://shop.beta.test/span-nobridge/?case=span-nobridge', {}, bindings);
    const parent = await originParent('span-nobridge');
    expect(parent.flags).toBe('01');
    expect(await spansAfterASampledOne(parent.traceId, 'span-after2')).toHaveLength(0);
  });

  it('a hung bridge neither delays nor changes the response', async () => {
    const bindings = {
      ...env,
      BRIDGE_URL: (env as unknown as { TEST_HUNG_BRIDGE_URL: string }).TEST_HUNG_BRIDGE_URL,
    } as Env;
    const before = (await (await fetch(`${env.ORIGIN_URL}/__front/hung`)).json()) as { open: number };
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request('https://shop.beta.test/span-hung/'), bindings, ctx);
    const body = await res.text();
    // The response is complete while the export is still held open by the hung peer.
    const during = (await (await fetch(`${env.ORIGIN_URL}/__front/hung`)).json()) as { open: number };
    expect(res.status).toBe(200);
    expect(body).toContain('site-beta');
    expect(res.headers.get('x-edge-cache')).toBeTruthy();
    expect(during.open).toBeGreaterThan(before.open);
    await waitOnExecutionContext(ctx); // the export gives up at its own timeout; nothing throws
  });

  it('a refused connection to the bridge does not change the response', async () => {
    const bindings = { ...env, BRIDGE_URL: 'http://127.0.0.1:9/v1/traces' } as Env;
    const r = await send('https://shop.beta.test/span-refused/', {}, bindings);
    expect(r.status).toBe(200);
    expect(r.body).toContain('site-beta');
  });
});
