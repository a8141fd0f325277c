/**
 * The edge worker's errors: each has a stable `code`, an HTTP status and an optional `cause`.
 * One handler in app.ts renders them as a JSON envelope; tests assert on `code`.
 */
export type EdgeErrorCode =
  | 'CONFIG_INVALID'
  | 'HOST_MAP_MISSING'
  | 'HOST_MAP_INVALID'
  | 'PURGE_UNAUTHORIZED'
  | 'PURGE_BODY_TOO_LARGE'
  | 'PURGE_BODY_INVALID'
  | 'PURGE_UNKNOWN_SITE'
  | 'PURGE_FOREIGN_URL'
  | 'ORIGIN_UNREACHABLE';

const STATUS: Record<EdgeErrorCode, number> = {
  CONFIG_INVALID: 500,
  HOST_MAP_MISSING: 503,
  HOST_MAP_INVALID: 503,
  PURGE_UNAUTHORIZED: 401,
  PURGE_BODY_TOO_LARGE: 413,
  PURGE_BODY_INVALID: 400,
  PURGE_UNKNOWN_SITE: 404,
  PURGE_FOREIGN_URL: 400,
  ORIGIN_UNREACHABLE: 502,
};

/** An error the worker answers with its own status and a stable code. */
export class EdgeError extends Error {
  readonly code: EdgeErrorCode;
  readonly status: number;
  /** The request field at fault, when there is one (purge bodies). */
  readonly field: string | undefined;
  constructor(code: EdgeErrorCode, message: string, opts: { cause?: unknown; field?: string } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'EdgeError';
    this.code = code;
    this.status = STATUS[code];
    this.field = opts.field;
  }
}
