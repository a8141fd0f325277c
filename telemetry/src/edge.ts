/**
 * Runtime-neutral tracing for the edge Worker: W3C traceparent, one span per request,
 * OTLP/HTTP JSON encoding and a fire-and-forget export to the bridge.
 * No node: imports so it bundles into workerd; kept tiny on purpose (Worker size limits).
 */

/** Parsed W3C traceparent header. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** Parses a version-00 traceparent; returns undefined for anything malformed or all-zero ids. */
export function parseTraceparent(header: string | null | undefined): TraceParent | undefined {
  if (!header || header.length > 128) return undefined;
  const m = TRACEPARENT_RE.exec(header.trim().toLowerCase());
  if (!m) return undefined;
  const [, traceId, spanId, flags] = m as unknown as [string, string, string, string];
  // The spec says all-zero ids are invalid and must be ignored.
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return { traceId, spanId, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** Formats a traceparent header for the given ids. */
export function makeTraceparent(tp: TraceParent): string {
  return `00-${tp.traceId}-${tp.spanId}-${tp.sampled ? '01' : '00'}`;
}

/** Random lowercase hex id of `bytes` bytes (Web Crypto, available in workerd and Node). */
export function randomHexId(bytes: 8 | 16): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  // An all-zero id is invalid; the chance is negligible but the fix is free.
  return /^0+$/.test(s) ? randomHexId(bytes) : s;
}

/** One edge request, as recorded by the Worker. */
export interface EdgeSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startMs: number;
  endMs: number;
  method: string;
  path: string;
  status: number;
  host: string;
  siteId?: string;
  cacheStatus?: string;
}

/** Starts a span for a request, continuing an incoming traceparent when valid. */
export function startEdgeSpan(
  req: { method: string; url: string; traceparent?: string | null },
  nowMs: number,
): { span: EdgeSpan; outgoingTraceparent: string } {
  const parent = parseTraceparent(req.traceparent);
  const url = new URL(req.url);
  const span: EdgeSpan = {
    traceId: parent?.traceId ?? randomHexId(16),
    spanId: randomHexId(8),
    name: `${req.method} edge`,
    startMs: nowMs,
    endMs: nowMs,
    method: req.method,
    path: url.pathname,
    status: 0,
    host: url.hostname,
  };
  if (parent) span.parentSpanId = parent.spanId;
  return {
    span,
    outgoingTraceparent: makeTraceparent({
      traceId: span.traceId,
      spanId: span.spanId,
      sampled: parent?.sampled ?? true,
    }),
  };
}

type AnyValue = { stringValue: string } | { intValue: string };
type KeyValue = { key: string; value: AnyValue };

const str = (key: string, v: string): KeyValue => ({ key, value: { stringValue: v } });
const int = (key: string, v: number): KeyValue => ({ key, value: { intValue: String(Math.trunc(v)) } });
// OTLP JSON carries times as decimal-string nanoseconds; BigInt avoids float precision loss.
const nanos = (ms: number): string => (BigInt(Math.trunc(ms)) * 1_000_000n).toString();

/** Encodes spans as an OTLP/HTTP JSON ExportTraceServiceRequest (ids as hex, per the OTLP JSON mapping). */
export function toOtlpJson(spans: readonly EdgeSpan[], resource: Record<string, string> = {}): unknown {
  const resAttrs = Object.entries({ 'service.name': 'edge-worker', ...resource }).map(([k, v]) => str(k, v));
  return {
    resourceSpans: [
      {
        resource: { attributes: resAttrs },
        scopeSpans: [
          {
            scope: { name: '@wpfarm/telemetry/edge' },
            spans: spans.map((s) => {
              const attributes: KeyValue[] = [
                str('http.request.method', s.method),
                str('url.path', s.path),
                int('http.response.status_code', s.status),
                str('server.address', s.host),
              ];
              if (s.siteId !== undefined) attributes.push(str('site.id', s.siteId));
              if (s.cacheStatus !== undefined) attributes.push(str('cache.status', s.cacheStatus));
              return {
                traceId: s.traceId,
                spanId: s.spanId,
                ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
                name: s.name,
                kind: 2, // SPAN_KIND_SERVER
                startTimeUnixNano: nanos(s.startMs),
                endTimeUnixNano: nanos(s.endMs),
                attributes,
                // OTLP status: 2 = ERROR for 5xx (server spans do not mark 4xx as errors).
                status: s.status >= 500 ? { code: 2 } : {},
              };
            }),
          },
        ],
      },
    ],
  };
}

/** Result of an export attempt; never thrown. */
export type ExportResult = { ok: true; status: number } | { ok: false; status?: number; error: string };

/** POSTs spans to the bridge; never throws, aborts after timeoutMs (default 2000). */
export async function exportSpans(
  fetchFn: typeof fetch,
  bridgeUrl: string,
  token: string,
  spans: readonly EdgeSpan[],
  opts: { timeoutMs?: number; resource?: Record<string, string> } = {},
): Promise<ExportResult> {
  if (spans.length === 0) return { ok: true, status: 0 };
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), opts.timeoutMs ?? 2000);
  try {
    const res = await fetchFn(bridgeUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(toOtlpJson(spans, opts.resource)),
      signal: ac.signal,
    });
    // Drain the body so the connection can be reused (workerd warns on unread bodies).
    await res.body?.cancel().catch(() => {});
    return res.ok
      ? { ok: true, status: res.status }
      : { ok: false, status: res.status, error: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, error: ac.signal.aborted ? 'timeout' : String((err as Error)?.message ?? err) };
  } finally {
    clearTimeout(timer);
  }
}
