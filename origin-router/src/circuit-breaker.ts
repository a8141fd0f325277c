/**
 * A circuit breaker per upstream, as a pure state machine over explicit time:
 * closed --(N consecutive failures)--> open --(openMs elapsed)--> half-open
 * half-open --(trial succeeds)--> closed; half-open --(trial fails)--> open.
 * While open, requests fail fast instead of queueing on a dead WordPress service.
 */

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the circuit. */
  failures: number;
  /** How long the circuit stays open before one trial request is let through. */
  openMs: number;
}

export interface Breaker {
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: number;
  /** A half-open trial is in flight: further requests still fail fast. */
  trialInFlight: boolean;
}

/** A new, closed breaker. */
export function newBreaker(): Breaker {
  return { state: 'closed', consecutiveFailures: 0, openedAt: 0, trialInFlight: false };
}

/**
 * Whether a request may go upstream now; moves open → half-open when the wait is over and
 * reserves the single trial. Returns the seconds to wait (for Retry-After) when refused.
 */
export function admit(
  b: Breaker,
  opts: BreakerOptions,
  now: number,
): { ok: true } | { ok: false; retryAfterS: number } {
  if (b.state === 'closed') return { ok: true };
  if (b.state === 'open') {
    const waited = now - b.openedAt;
    if (waited < opts.openMs)
      return { ok: false, retryAfterS: Math.max(1, Math.ceil((opts.openMs - waited) / 1000)) };
    b.state = 'half-open';
    b.trialInFlight = false;
  }
  if (b.trialInFlight) return { ok: false, retryAfterS: 1 };
  b.trialInFlight = true;
  return { ok: true };
}

/** Records the outcome of an admitted request; returns true when this call opened the circuit. */
export function record(b: Breaker, opts: BreakerOptions, ok: boolean, now: number): boolean {
  if (ok) {
    b.state = 'closed';
    b.consecutiveFailures = 0;
    b.trialInFlight = false;
    return false;
  }
  b.consecutiveFailures++;
  if (b.state === 'half-open' || (b.state === 'closed' && b.consecutiveFailures >= opts.failures)) {
    b.state = 'open';
    b.openedAt = now;
    b.trialInFlight = false;
    return true;
  }
  return false;
}

/**
 * An admitted request ended without a verdict on the upstream (the client went away): frees the
 * half-open trial so the next request can try, and changes nothing else.
 */
export function release(b: Breaker): void {
  if (b.state === 'half-open') b.trialInFlight = false;
}
