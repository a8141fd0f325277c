/**
 * Tracing through @opentelemetry/api only: the SDK, when any, is registered by the telemetry
 * package via `node --import` before this module loads. Without one the API is a no-op; we
 * detect that once and skip all span work, so the no-op path costs one boolean test.
 */

import type { IncomingHttpHeaders } from 'node:http';
import {
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';

export interface Tracing {
  enabled: boolean;
  /** A server span continuing the incoming traceparent. */
  server(
    method: string,
    headers: IncomingHttpHeaders,
    attrs: Record<string, string | number>,
  ): { span: Span; ctx: Context };
  /** A client span for one upstream attempt; its traceparent/tracestate are appended to `headers`. */
  client(parent: Context, name: string, attrs: Record<string, string | number>, headers: string[]): Span;
  end(span: Span, status: number, err?: unknown): void;
}

const peers = new Map<string, Readonly<Record<string, string | number>>>();

/** `server.address` and `server.port` (HTTP semantic conventions) of an upstream origin URL; memoised (a handful of origins). */
export function peerAttributes(origin: string): Readonly<Record<string, string | number>> {
  let attrs = peers.get(origin);
  if (attrs) return attrs;
  try {
    const u = new URL(origin);
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    attrs = Object.freeze({ 'server.address': u.hostname.replace(/^\[|\]$/g, ''), 'server.port': port });
  } catch {
    attrs = Object.freeze({ 'server.address': origin });
  }
  if (peers.size < 10_000) peers.set(origin, attrs);
  return attrs;
}

/** True when a real tracer provider is registered (an unended probe span gets a valid id). */
export function tracingRegistered(tracer: Tracer): boolean {
  const probe = tracer.startSpan('origin-router.probe', { root: true });
  return probe.spanContext().traceId !== '00000000000000000000000000000000';
}

/** Creates the router's tracing helpers; `enabled` false turns every call into a no-op. */
export function createTracing(enabled?: boolean): Tracing {
  const tracer = trace.getTracer('origin-router');
  const on = enabled ?? tracingRegistered(tracer);
  return {
    enabled: on,
    server(method, headers, attrs) {
      const parent = propagation.extract(ROOT_CONTEXT, headers);
      const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: attrs }, parent);
      return { span, ctx: trace.setSpan(parent, span) };
    },
    client(parent, name, attrs, headers) {
      // An unsampled request gets no client span (nothing would record it), only the parent's
      // traceparent (flag 00) so the next hop keeps the decision instead of sampling anew.
      const server = trace.getSpan(parent);
      const span =
        server && !server.isRecording()
          ? server
          : tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes: attrs }, parent);
      const carrier: Record<string, string> = {};
      propagation.inject(trace.setSpan(parent, span), carrier);
      for (const [k, v] of Object.entries(carrier)) headers.push(k, v);
      return span;
    },
    end(span, status, err) {
      span.setAttribute('http.response.status_code', status);
      if (err || status >= 500)
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: err ? String((err as Error).message ?? err) : undefined,
        });
      span.end();
    },
  };
}
