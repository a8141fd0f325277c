import { expect, it } from 'vitest';
import { linkFromTraceparent, withLinkedSpan } from './tracing.ts';

it.each([
  [
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 },
  ],
  [
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
    { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', traceFlags: 0 },
  ],
  ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', undefined],
  ['garbage', undefined],
  [undefined, undefined],
])('%s', (tp, want) => {
  const link = linkFromTraceparent(tp);
  if (want === undefined) expect(link).toBeUndefined();
  else expect(link?.context).toMatchObject({ ...want, isRemote: true });
});

it('runs the function without an SDK (no-op tracer) and passes errors through', async () => {
  expect(await withLinkedSpan('x', ['bad'], {}, async () => 42)).toBe(42);
  await expect(withLinkedSpan('x', [], {}, async () => Promise.reject(new Error('boom')))).rejects.toThrow(
    'boom',
  );
});

it('the delivery span carries one link per valid webhook traceparent (recording provider)', async () => {
  // A minimal recording TracerProvider stands in for the SDK the telemetry package loads with
  // `node --import`: the API's proxy tracer delegates to whatever provider is registered.
  const { trace } = await import('@opentelemetry/api');
  const started: { name: string; links: unknown[]; ended: boolean }[] = [];
  const provider = {
    getTracer: () => ({
      startSpan: () =>
        trace.wrapSpanContext({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 0 }),
      startActiveSpan: (name: string, opts: { links?: unknown[] }, fn: (span: unknown) => unknown) => {
        const rec = { name, links: opts.links ?? [], ended: false };
        started.push(rec);
        const span = {
          end: () => {
            rec.ended = true;
          },
          recordException: () => {},
          setStatus: () => {},
          addEvent: () => {},
        };
        return fn(span);
      },
    }),
  };
  trace.setGlobalTracerProvider(provider as never);
  try {
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await withLinkedSpan(
      'purge varnish',
      [tp, undefined, 'junk'],
      { 'purge.node': 'varnish-1' },
      async () => 1,
    );
    expect(started).toHaveLength(1);
    expect(started[0]!.ended).toBe(true);
    expect(started[0]!.links).toEqual([
      {
        context: {
          traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
          spanId: '00f067aa0ba902b7',
          traceFlags: 1,
          isRemote: true,
        },
      },
    ]);
  } finally {
    trace.disable();
  }
});
