import { type Link, type Span, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';

/**
 * Tracing through @opentelemetry/api only: without an SDK (started by the telemetry package via
 * `node --import`) every call here is a no-op. A purge span serves many webhooks at once, so it is
 * linked to each webhook's trace rather than parented by one of them.
 */
const tracer = trace.getTracer('cache-purger');
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** A link to the span that sent a webhook, from its `traceparent` header; undefined when absent or invalid. */
export function linkFromTraceparent(tp: string | undefined): Link | undefined {
  const m = tp ? TRACEPARENT.exec(tp) : null;
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return {
    context: {
      traceId: m[1]!,
      spanId: m[2]!,
      traceFlags: Number.parseInt(m[3]!, 16) & TraceFlags.SAMPLED,
      isRemote: true,
    },
  };
}

/** Runs `fn` inside a span linked to every given traceparent (at most 128 links). */
export async function withLinkedSpan<T>(
  name: string,
  traceparents: (string | undefined)[],
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const links = traceparents
    .map(linkFromTraceparent)
    .filter((l): l is Link => !!l)
    .slice(0, 128);
  return tracer.startActiveSpan(name, { links, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  });
}
