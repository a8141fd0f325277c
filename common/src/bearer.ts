import { constantTimeEqual } from './contracts/edge-auth.ts';

/**
 * True when an `Authorization` header carries `token` as a Bearer credential. The scheme is
 * matched case-insensitively (RFC 9110 §11.1: `bearer`, `BEARER` are the same scheme) and the
 * token in constant time; an empty expected token never matches.
 * @example bearerMatches(req.headers.authorization, config.drainToken)
 */
export function bearerMatches(header: string | undefined, token: string | undefined): boolean {
  if (!token || typeof header !== 'string' || header.length > 4096) return false;
  const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m !== null && constantTimeEqual(m[1]!, token);
}
