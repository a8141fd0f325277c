/**
 * The purger's errors: one class, a stable `code`, an HTTP status, an optional field, and one
 * renderer so every failure reaches WordPress as `{ error: { code, message, field? } }`.
 */

export type PurgerErrorCode =
  | 'BAD_JSON'
  | 'BAD_ENCODING'
  | 'BAD_REQUEST'
  | 'BAD_SIGNATURE'
  | 'REPLAYED'
  | 'UNKNOWN_SITE'
  | 'SITE_SECRET_MISSING'
  | 'FORBIDDEN_HOST'
  | 'FORBIDDEN_TAG'
  | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_FOUND'
  | 'QUEUE_UNAVAILABLE'
  | 'SHUTTING_DOWN'
  | 'INTERNAL';

const STATUS: Record<PurgerErrorCode, number> = {
  BAD_JSON: 400,
  BAD_ENCODING: 400,
  BAD_REQUEST: 400,
  BAD_SIGNATURE: 401,
  REPLAYED: 401,
  UNKNOWN_SITE: 401,
  SITE_SECRET_MISSING: 401,
  FORBIDDEN_HOST: 403,
  FORBIDDEN_TAG: 403,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_FOUND: 404,
  QUEUE_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
};

/** A failure with a stable code; `retryAfter` (seconds) becomes a Retry-After header. */
export class PurgerError extends Error {
  readonly code: PurgerErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  readonly retryAfter: number | undefined;
  constructor(
    code: PurgerErrorCode,
    message: string,
    opts: { field?: string; cause?: unknown; retryAfter?: number } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = 'PurgerError';
    this.code = code;
    this.status = STATUS[code];
    this.field = opts.field;
    this.retryAfter = opts.retryAfter;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** The one JSON shape of every error response. */
export function errorBody(err: PurgerError): ErrorBody {
  return { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } };
}

/** Maps anything thrown (including Fastify's own errors) to a PurgerError. */
export function toPurgerError(err: unknown): PurgerError {
  if (err instanceof PurgerError) return err;
  const e = err as { code?: string; statusCode?: number; message?: string };
  if (e?.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e?.statusCode === 413)
    return new PurgerError('BODY_TOO_LARGE', 'request body is larger than the limit', { cause: err });
  if (e?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e?.statusCode === 415)
    return new PurgerError('UNSUPPORTED_MEDIA_TYPE', 'content-type must be application/json', { cause: err });
  if (e?.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || e?.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return new PurgerError('BAD_JSON', 'body is not valid JSON', { cause: err });
  if (e?.statusCode === 404) return new PurgerError('NOT_FOUND', e.message ?? 'not found', { cause: err });
  return new PurgerError('INTERNAL', 'internal error', { cause: err });
}
