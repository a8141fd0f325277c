import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signing between WordPress (the mu-plugin signs) and the cache-purger (verifies).
 * MAC = HMAC-SHA256(secret, `${timestamp}.${nonce}.${body}`), sent as `v1=<hex>`.
 * The PHP side in infra/ implements the same three lines; this is the reference.
 */
export const SIGNATURE_HEADER = 'x-farm-signature';
export const TIMESTAMP_HEADER = 'x-farm-timestamp';
export const NONCE_HEADER = 'x-farm-nonce';
/** How far a timestamp may be from the verifier's clock, either way. */
export const SIGNATURE_WINDOW_SECONDS = 300;

export interface SignedHeaders {
  [SIGNATURE_HEADER]: string;
  [TIMESTAMP_HEADER]: string;
  [NONCE_HEADER]: string;
}

function mac(secret: string, timestamp: string, nonce: string, body: string | Buffer): Buffer {
  return createHmac('sha256', secret).update(`${timestamp}.${nonce}.`).update(body).digest();
}

/** Signs a body; `now` in ms is injectable for tests. */
export function signBody(
  secret: string,
  body: string | Buffer,
  now = Date.now(),
  nonce = randomBytes(16).toString('hex'),
): SignedHeaders {
  const timestamp = String(Math.floor(now / 1000));
  return {
    [SIGNATURE_HEADER]: `v1=${mac(secret, timestamp, nonce, body).toString('hex')}`,
    [TIMESTAMP_HEADER]: timestamp,
    [NONCE_HEADER]: nonce,
  };
}

export type SignatureCheck =
  | { ok: true; nonce: string; timestamp: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'mismatch' };

/**
 * Verifies a signature in constant time against one or more secrets (rotation). Does not check
 * the nonce for replay: the caller remembers nonces (the purger, in Redis) for the window.
 */
export function verifySignature(
  secrets: readonly string[],
  headers: Record<string, string | string[] | undefined>,
  body: string | Buffer,
  now = Date.now(),
): SignatureCheck {
  const sig = headers[SIGNATURE_HEADER];
  const ts = headers[TIMESTAMP_HEADER];
  const nonce = headers[NONCE_HEADER];
  if (typeof sig !== 'string' || typeof ts !== 'string' || typeof nonce !== 'string')
    return { ok: false, reason: 'missing' };
  if (!/^v1=[0-9a-f]{64}$/.test(sig) || !/^\d{1,12}$/.test(ts) || !/^[A-Za-z0-9_-]{16,128}$/.test(nonce))
    return { ok: false, reason: 'malformed' };
  const timestamp = Number(ts);
  if (Math.abs(now / 1000 - timestamp) > SIGNATURE_WINDOW_SECONDS) return { ok: false, reason: 'expired' };
  const presented = Buffer.from(sig.slice(3), 'hex');
  let ok = false;
  for (const secret of secrets)
    if (secret && timingSafeEqual(presented, mac(secret, ts, nonce, body))) ok = true;
  return ok ? { ok: true, nonce, timestamp } : { ok: false, reason: 'mismatch' };
}
