/**
 * One span as one JSON line: the format of `TELEMETRY_FILE`, written both by the preload's file
 * exporter (register.ts) and by the bridge's file sink, so a newcomer reads one format with
 * `jq` whichever process wrote the span.
 */

/** OTLP span kinds by number (the SDK's SpanKind is this minus one). */
const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;
const STATUS = ['UNSET', 'OK', 'ERROR'] as const;

export interface SpanLine {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP kind number (0..5). */
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** OTLP status code (0 unset, 1 ok, 2 error). */
  statusCode: number;
  statusMessage?: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  links?: { traceId: string; spanId: string }[];
}

/** The JSON line (no newline) for one span. */
export function spanLine(s: SpanLine): string {
  const start = BigInt(s.startTimeUnixNano || '0');
  const end = BigInt(s.endTimeUnixNano || '0');
  return JSON.stringify({
    traceId: s.traceId,
    spanId: s.spanId,
    parentSpanId: s.parentSpanId || undefined,
    name: s.name,
    kind: KINDS[s.kind] ?? String(s.kind),
    start: start > 0n ? new Date(Number(start / 1_000_000n)).toISOString() : undefined,
    durationMs: end >= start ? Number(end - start) / 1e6 : undefined,
    status: STATUS[s.statusCode] ?? String(s.statusCode),
    statusMessage: s.statusMessage || undefined,
    service: s.resource['service.name'],
    attributes: s.attributes,
    resource: s.resource,
    links: s.links?.length ? s.links : undefined,
  });
}
