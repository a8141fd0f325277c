/**
 * Runtime-neutral span export for the edge Worker: the span model, its OTLP/HTTP JSON encoding
 * and a fire-and-forget export to the bridge. The trace context itself (which incoming
 * `traceparent` to trust, new ids) is the worker's: edge-worker/src/traceparent.ts.
 * No node: imports so it bundles into workerd; kept tiny on purpose (Worker size limits).
 */

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
  /** `https` or `http`, no colon. */
  scheme?: string;
  siteId?: string;
  cacheStatus?: string;
  cacheReason?: string;
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
              if (s.scheme !== undefined) attributes.push(str('url.scheme', s.scheme));
              if (s.siteId !== undefined) attributes.push(str('site.id', s.siteId));
              if (s.cacheStatus !== undefined) attributes.push(str('cache.status', s.cacheStatus));
              if (s.cacheReason !== undefined) attributes.push(str('cache.reason', s.cacheReason));
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
