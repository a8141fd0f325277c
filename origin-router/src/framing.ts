/**
 * Request framing checks (defence in depth behind llhttp, which already refuses most smuggling
 * shapes in strict mode): a request is refused when its length is ambiguous.
 */

/**
 * Why the request's framing is ambiguous, or undefined when it is clear. Looks only at
 * `Content-Length` and `Transfer-Encoding` in the raw header list (names in any case).
 * @example framingProblem(['Content-Length', '5', 'Transfer-Encoding', 'chunked']) // 'content-length with transfer-encoding'
 */
export function framingProblem(rawHeaders: readonly string[]): string | undefined {
  let length: string | undefined;
  let lengths = 0;
  let te: string | undefined;
  let tes = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') {
      const v = rawHeaders[i + 1]!.trim();
      for (const part of v.split(',')) {
        const p = part.trim();
        if (!/^\d{1,15}$/.test(p)) return 'content-length is not a number';
        if (length !== undefined && p !== length) return 'differing content-length values';
        length = p;
      }
      lengths++;
    } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
      te = rawHeaders[i + 1]!.trim().toLowerCase();
      tes++;
    }
  }
  if (te !== undefined && length !== undefined) return 'content-length with transfer-encoding';
  if (tes > 1) return 'repeated transfer-encoding';
  if (te !== undefined && te !== 'chunked') return `transfer-encoding "${te}" is not exactly chunked`;
  void lengths;
  return undefined;
}
