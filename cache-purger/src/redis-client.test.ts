import { describe, expect, it } from 'vitest';
import { isMasterRole, reconnectDelayMs, reconnectOnReadOnly } from './redis-client.ts';

describe('reconnectDelayMs', () => {
  it.each([
    [1, 50, 100],
    [2, 100, 200],
    [4, 400, 800],
    [7, 2_500, 5_000],
    [1_000, 2_500, 5_000],
  ])(
    'attempt %i waits between %i and %i ms (100 ms doubling, capped at 5 s, jittered)',
    (attempt, lo, hi) => {
      expect(reconnectDelayMs(attempt, () => 0)).toBe(lo);
      expect(reconnectDelayMs(attempt, () => 1)).toBe(hi);
    },
  );
});

describe('reconnectOnReadOnly', () => {
  it.each([
    ["READONLY You can't write against a read only replica.", true, 2],
    ["READONLY You can't write against a read only replica.", false, 1],
    ['LOADING Redis is loading the dataset in memory', true, false],
    ['NOGROUP No such key', true, false],
    ['Connection is closed.', false, false],
  ] as const)('%s (resend %s) → %s', (message, resend, expected) => {
    expect(reconnectOnReadOnly(resend)(new Error(message))).toBe(expected);
  });
});

describe('isMasterRole', () => {
  it.each([
    [['master', 3129659, [['127.0.0.1', '9001', '3129242']]], true],
    [['slave', '127.0.0.1', 9000, 'connected', 3167038], false],
    [['sentinel', ['farm']], false],
    ['master', false],
    [null, false],
  ])('%j → %s', (reply, expected) => {
    expect(isMasterRole(reply)).toBe(expected);
  });
});
