import { describe, expect, it } from 'vitest';
import { continueTrace, formatTraceparent, newTrace, parseTraceparent, randomHex } from './traceparent.ts';

describe('traceparent', () => {
  it.each([
    ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', true],
    ['00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00', false],
  ])('parses %s', (h, sampled) => {
    expect(parseTraceparent(h)).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentSpanId: 'b7ad6b7169203331',
      sampled,
    });
  });
  it.each([
    '',
    'garbage',
    '01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    '00-00000000000000000000000000000000-b7ad6b7169203331-01',
    '00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01',
    '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
  ])('refuses %j', (h) => {
    expect(parseTraceparent(h)).toBeUndefined();
  });

  it('new traces are sampled by rate and formatted as version 00', () => {
    expect(newTrace(1, () => 0.5).sampled).toBe(true);
    expect(newTrace(0, () => 0).sampled).toBe(false);
    expect(formatTraceparent(newTrace(1))).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });

  it('continues an authenticated caller with a new span id', () => {
    const t = continueTrace('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 0);
    expect(t.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(t.parentSpanId).toBe('b7ad6b7169203331');
    expect(t.spanId).not.toBe('b7ad6b7169203331');
    expect(t.sampled).toBe(true);
  });

  it('never produces an all-zero id', () => {
    expect(randomHex(8, (a) => a.fill(0))).toBe('0000000000000001');
  });
});
