import { describe, expect, it } from 'vitest';
import { newHealth, onProbe, onRequest, refresh } from './node-health.ts';

const opts = { fall: 2, rise: 2, ejectAfter: 3, ejectMs: 5000 };

describe('node health', () => {
  it('goes down after `fall` failed probes in a row and up after `rise` good ones', () => {
    const h = newHealth();
    onProbe(h, opts, false, 0);
    expect(h.available).toBe(true);
    onProbe(h, opts, true, 0);
    onProbe(h, opts, false, 0);
    expect(h.available).toBe(true);
    onProbe(h, opts, false, 0);
    expect(h.available).toBe(false);
    onProbe(h, opts, true, 0);
    expect(h.available).toBe(false);
    onProbe(h, opts, true, 0);
    expect(h.available).toBe(true);
  });

  it('ejects after consecutive request failures and returns after ejectMs', () => {
    const h = newHealth();
    expect(onRequest(h, opts, false, 0)).toBe(false);
    expect(onRequest(h, opts, false, 0)).toBe(false);
    expect(onRequest(h, opts, false, 100)).toBe(true);
    expect(h.available).toBe(false);
    refresh(h, 5099);
    expect(h.available).toBe(false);
    refresh(h, 5100);
    expect(h.available).toBe(true);
  });

  it('a success resets the failure count', () => {
    const h = newHealth();
    onRequest(h, opts, false, 0);
    onRequest(h, opts, false, 0);
    onRequest(h, opts, true, 0);
    expect(onRequest(h, opts, false, 0)).toBe(false);
    expect(h.available).toBe(true);
  });
});
