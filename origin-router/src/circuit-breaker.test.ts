import { describe, expect, it } from 'vitest';
import { admit, newBreaker, record, release } from './circuit-breaker.ts';

const opts = { failures: 3, openMs: 10_000 };

describe('circuit breaker', () => {
  it('opens after N consecutive failures, not after N scattered ones', () => {
    const b = newBreaker();
    record(b, opts, false, 0);
    record(b, opts, false, 0);
    record(b, opts, true, 0);
    record(b, opts, false, 0);
    record(b, opts, false, 0);
    expect(b.state).toBe('closed');
    expect(record(b, opts, false, 1000)).toBe(true);
    expect(b.state).toBe('open');
  });

  it('fails fast while open with a Retry-After, then lets exactly one trial through', () => {
    const b = newBreaker();
    for (let i = 0; i < 3; i++) record(b, opts, false, 0);
    expect(admit(b, opts, 4000)).toEqual({ ok: false, retryAfterS: 6 });
    expect(admit(b, opts, 10_000)).toEqual({ ok: true });
    expect(b.state).toBe('half-open');
    expect(admit(b, opts, 10_001).ok).toBe(false);
  });

  it('closes on a successful trial and reopens on a failed one', () => {
    const b = newBreaker();
    for (let i = 0; i < 3; i++) record(b, opts, false, 0);
    admit(b, opts, 10_000);
    expect(record(b, opts, false, 10_500)).toBe(true);
    expect(b.state).toBe('open');
    expect(admit(b, opts, 15_000).ok).toBe(false);
    admit(b, opts, 20_500);
    record(b, opts, true, 20_600);
    expect(b.state).toBe('closed');
    expect(admit(b, opts, 20_700)).toEqual({ ok: true });
  });

  it('a released trial (client gone, no verdict) frees the slot and leaves the state alone', () => {
    const b = newBreaker();
    for (let i = 0; i < 3; i++) record(b, opts, false, 0);
    expect(admit(b, opts, 10_000).ok).toBe(true);
    expect(admit(b, opts, 10_001).ok).toBe(false);
    release(b);
    expect(b.state).toBe('half-open');
    expect(admit(b, opts, 10_002).ok).toBe(true);
    const closed = newBreaker();
    record(closed, opts, false, 0);
    release(closed);
    expect(closed).toMatchObject({ state: 'closed', consecutiveFailures: 1 });
  });
});
