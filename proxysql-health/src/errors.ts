/** The checker's HTTP errors: a stable `code` and the status it renders as. */

export const ERRORS = Object.freeze({
  NOT_FOUND: { status: 404, message: 'no such endpoint' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  UNAUTHORIZED: { status: 401, message: 'missing or wrong bearer token' },
  DRAIN_DISABLED: { status: 404, message: 'drain API is off (HEALTH_DRAIN_TOKEN not set)' },
  STATUS_DISABLED: {
    status: 404,
    message: '/status is off (neither HEALTH_STATUS_TOKEN nor HEALTH_DRAIN_TOKEN is set)',
  },
  BODY_TOO_LARGE: { status: 413, message: 'request body too large' },
} as const);

export type HealthErrorCode = keyof typeof ERRORS;

/** A failure the checker answers itself; `status` comes from the code. */
export class HealthError extends Error {
  readonly code: HealthErrorCode;
  readonly status: number;
  constructor(code: HealthErrorCode, opts: { cause?: unknown } = {}) {
    super(ERRORS[code].message, { cause: opts.cause });
    this.name = 'HealthError';
    this.code = code;
    this.status = ERRORS[code].status;
  }
}

/** Connection and query errors that mean "too slow" rather than "refused" or "wrong". */
export function isTimeout(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'PROTOCOL_SEQUENCE_TIMEOUT' || code === 'ETIMEDOUT' || code === 'HEALTH_DEADLINE';
}
