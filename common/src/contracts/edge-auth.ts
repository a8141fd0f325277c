/**
 * The edge → origin trust contract. The worker sets `x-edge-auth` to the current key; the
 * origin-router accepts any of the live keys (two during a rotation). Pure JS so that both
 * workerd and Node import it.
 */

/** Request header carrying the shared edge secret. Stripped by the origin-router after checking. */
export const EDGE_AUTH_HEADER = 'x-edge-auth';

/**
 * The host the visitor asked for, as the edge saw it. The worker always sends it (a Worker's
 * subrequest to a local ORIGIN_URL cannot keep the visitor's Host). The origin-router uses it in
 * place of `Host` only on requests whose `x-edge-auth` verified, and strips it otherwise.
 */
export const EDGE_HOST_HEADER = 'x-edge-host';

/** Minimum length of an edge key; shorter keys are refused at start-up by every component. */
export const EDGE_KEY_MIN_LENGTH = 32;

/**
 * Compares two strings in time that depends only on their lengths, never on where they differ.
 * Works on UTF-16 code units (equal strings have equal units): no encoding, no allocation, which
 * matters on the router's per-request path.
 * @example constantTimeEqual(header, key)
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const len = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < len; i++)
    diff |= (i < a.length ? a.charCodeAt(i) : 0) ^ (i < b.length ? b.charCodeAt(i) : 0);
  return diff === 0;
}

/**
 * True when `presented` equals one of `keys`. Every key is compared (no early exit), so the
 * time taken does not reveal which key matched.
 */
export function edgeSecretMatches(presented: string | null | undefined, keys: readonly string[]): boolean {
  if (typeof presented !== 'string' || presented.length === 0 || presented.length > 1024) return false;
  let ok = false;
  for (const key of keys) if (key && constantTimeEqual(presented, key)) ok = true;
  return ok;
}

/** Parses a comma-separated key list (env `EDGE_AUTH_KEYS`), validating each key's length. */
export function parseEdgeKeys(raw: string | undefined, field = 'EDGE_AUTH_KEYS'): string[] {
  const keys = (raw ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.length === 0) throw new Error(`${field} is required: one or two comma-separated keys`);
  if (keys.length > 2)
    throw new Error(`${field} holds ${keys.length} keys; at most two are live at once (current, next)`);
  for (const [i, k] of keys.entries()) {
    if (k.length < EDGE_KEY_MIN_LENGTH)
      throw new Error(`${field}: key #${i + 1} is shorter than ${EDGE_KEY_MIN_LENGTH} characters`);
  }
  return keys;
}
