import { describe, expect, it } from 'vitest';
import { edgeRefusalIsPermanent } from './edge-delivery.ts';

describe('edge answers', () => {
  it.each([
    [400, true],
    [404, true],
    [413, true],
    [422, true],
    [401, false],
    [403, false],
    [429, false],
    [500, false],
    [503, false],
  ])('%i is permanent: %s', (status, permanent) => {
    expect(edgeRefusalIsPermanent(status)).toBe(permanent);
  });
});
