import { describe, expect, it } from 'vitest';
import { framingProblem } from './framing.ts';

describe('framingProblem', () => {
  it.each([
    [[], undefined],
    [['Host', 'a', 'Content-Length', '5'], undefined],
    [['Content-Length', '5', 'content-length', '5'], undefined],
    [['Transfer-Encoding', 'chunked'], undefined],
    [['Content-Length', '5', 'Transfer-Encoding', 'chunked'], 'content-length with transfer-encoding'],
    [['Content-Length', '5', 'Content-Length', '6'], 'differing content-length values'],
    [['Content-Length', '5, 6'], 'differing content-length values'],
    [['Content-Length', '-1'], 'content-length is not a number'],
    [['Content-Length', '0x10'], 'content-length is not a number'],
    [
      ['Transfer-Encoding', 'chunked, identity'],
      'transfer-encoding "chunked, identity" is not exactly chunked',
    ],
    [['Transfer-Encoding', 'xchunked'], 'transfer-encoding "xchunked" is not exactly chunked'],
    [['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked'], 'repeated transfer-encoding'],
  ])('%j → %s', (raw, want) => {
    expect(framingProblem(raw)).toBe(want);
  });
});
