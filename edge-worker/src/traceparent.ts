/**
 * W3C Trace Context for the edge span. Visitor requests always start a new trace: an incoming
 * `traceparent` from the internet is untrusted (it could force sampling or collide trace ids).
 * Only callers that authenticated (the cache-purger on the purge endpoint) are continued.
 * See docs/decisions/edge-tracing.md.
 */

export interface TraceContext {
  traceId: string;
  spanId: string;
  /** The caller's span, when continued. */
  parentSpanId?: string;
  sampled: boolean;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a version-00 traceparent; undefined when malformed or all-zero. */
export function parseTraceparent(
  header: string | null | undefined,
): Omit<TraceContext, 'spanId'> | undefined {
  const m = header ? TRACEPARENT.exec(header.trim()) : null;
  if (!m) return undefined;
  const [, traceId = '', parent = '', flags = '00'] = m;
  if (/^0+$/.test(traceId) || /^0+$/.test(parent)) return undefined;
  return { traceId, parentSpanId: parent, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** Hex of `bytes` random bytes, never all zero. */
export function randomHex(
  bytes: number,
  random: (a: Uint8Array) => void = (a) => crypto.getRandomValues(a),
): string {
  const a = new Uint8Array(bytes);
  random(a);
  if (a.every((b) => b === 0)) a[bytes - 1] = 1;
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A new root context, sampled with probability `rate` (0..1). */
export function newTrace(rate: number, rnd: () => number = Math.random): TraceContext {
  return { traceId: randomHex(16), spanId: randomHex(8), sampled: rnd() < rate };
}

/** A child of an authenticated caller's context, or a new root when it sent none. */
export function continueTrace(header: string | null | undefined, rate: number): TraceContext {
  const parent = parseTraceparent(header);
  if (!parent) return newTrace(rate);
  return { ...parent, spanId: randomHex(8) };
}

/** The header value to send to the origin: this span is the origin's parent. */
export function formatTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-${t.sampled ? '01' : '00'}`;
}
