/** The origin-router's errors: a stable `code`, the HTTP status it renders as, and a `cause`. */
import { UPSTREAM_TIMEOUT_CODES } from './upstream.ts';

export const ERRORS = Object.freeze({
  EDGE_AUTH_FAILED: { status: 403, message: 'edge authentication failed' },
  CLIENT_NOT_ALLOWED: { status: 403, message: 'client address not allowed' },
  UNKNOWN_HOST: { status: 421, message: 'no site for this host' },
  BAD_FRAMING: { status: 400, message: 'ambiguous request framing' },
  BAD_TARGET: { status: 400, message: 'request target not in origin form or not matching Host' },
  DUPLICATE_HOST: { status: 400, message: 'more than one Host header' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  PURGE_HEADER: { status: 400, message: 'purge headers are for the purger only' },
  URL_TOO_LONG: { status: 414, message: 'request URL too long' },
  BODY_TOO_LARGE: { status: 413, message: 'request body too large' },
  NO_HEALTHY_NODE: { status: 503, message: 'no cache node available' },
  CIRCUIT_OPEN: { status: 503, message: 'upstream temporarily unavailable' },
  UPSTREAM_UNAVAILABLE: { status: 502, message: 'upstream unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'upstream timed out' },
} as const);

export type RouterErrorCode = keyof typeof ERRORS;

/** A failure the router answers itself; `status` comes from the code. */
export class RouterError extends Error {
  readonly code: RouterErrorCode;
  readonly status: number;
  /** Seconds for `Retry-After`, when the condition is known to be temporary. */
  readonly retryAfter: number | undefined;
  /** The `Allow` header of a 405. */
  readonly allow: string | undefined;
  constructor(
    code: RouterErrorCode,
    opts: { cause?: unknown; detail?: string; retryAfter?: number; allow?: string } = {},
  ) {
    super(opts.detail ? `${ERRORS[code].message}: ${opts.detail}` : ERRORS[code].message, {
      cause: opts.cause,
    });
    this.name = 'RouterError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfter = opts.retryAfter;
    this.allow = opts.allow;
  }
}

/** Maps an upstream client error (upstream.ts codes, socket codes) to the router's error. */
export function upstreamError(err: unknown): RouterError {
  if (err instanceof RouterError) return err; // e.g. BODY_TOO_LARGE raised while streaming the body up
  const code = (err as { code?: string } | null)?.code ?? '';
  return new RouterError(UPSTREAM_TIMEOUT_CODES.has(code) ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE', {
    cause: err,
    detail: code || undefined,
  });
}
