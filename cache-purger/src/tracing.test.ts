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
