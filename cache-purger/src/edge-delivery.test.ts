import { describe, expect, it } from 'vitest';
import { edgeEscalated, edgeRefusalIsPermanent } from './edge-delivery.ts';

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
  it.each([
    ['{"ok":true,"site":"alpha","version":4,"escalated":true,"urls":1,"tags":0}', true],
    ['{"ok":true,"escalated":false}', false],
    ['{"ok":true}', false],
    ['{"escalated":"true"}', false],
    ['not json', false],
    ['null', false],
  ])('%s: the edge widened the purge itself: %s', (answer, escalated) => {
    expect(edgeEscalated(answer)).toBe(escalated);
  });
});
