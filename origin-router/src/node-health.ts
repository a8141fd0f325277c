/**
 * Health of one cache node, from two signals: active probes (a node is down after `fall`
 * failed probes in a row and up again after `rise` good ones) and passive ejection (after
 * `ejectAfter` consecutive request failures it is skipped for `ejectMs`). Pure state over
 * explicit time; the router keeps `available` up to date so the request path reads one boolean.
 */

export interface HealthOptions {
  fall: number;
  rise: number;
  ejectAfter: number;
  ejectMs: number;
}

export interface NodeHealth {
  probeUp: boolean;
  probeStreak: number;
  requestFailures: number;
  ejectedUntil: number;
  /** Derived: probeUp and not ejected. */
  available: boolean;
}

/** A node starts up: the router must route before the first probe answers. */
export function newHealth(): NodeHealth {
  return { probeUp: true, probeStreak: 0, requestFailures: 0, ejectedUntil: 0, available: true };
}

function derive(h: NodeHealth, now: number): void {
  h.available = h.probeUp && now >= h.ejectedUntil;
}

/** Applies an active probe result. */
export function onProbe(h: NodeHealth, opts: HealthOptions, ok: boolean, now: number): void {
  if (ok === h.probeUp) h.probeStreak = 0;
  else if (++h.probeStreak >= (ok ? opts.rise : opts.fall)) {
    h.probeUp = ok;
    h.probeStreak = 0;
    if (ok) h.requestFailures = 0;
  }
  derive(h, now);
}

/** Applies a request outcome; returns true when this failure ejected the node. */
export function onRequest(h: NodeHealth, opts: HealthOptions, ok: boolean, now: number): boolean {
  if (ok) {
    h.requestFailures = 0;
    return false;
  }
  if (++h.requestFailures < opts.ejectAfter || now < h.ejectedUntil) return false;
  h.ejectedUntil = now + opts.ejectMs;
  h.requestFailures = 0;
  derive(h, now);
  return true;
}

/** Re-derives availability (call when an ejection may have expired). */
export function refresh(h: NodeHealth, now: number): void {
  derive(h, now);
}
