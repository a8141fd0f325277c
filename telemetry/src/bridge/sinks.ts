/**
 * Where the bridge's batches go: a collector over OTLP/gRPC (production), or a JSON-lines file
 * (the local farm with no collector, same format as the preload's `TELEMETRY_FILE`).
 */
import { appendFile } from 'node:fs/promises';
import { ChannelCredentials, Client, Metadata, status } from '@grpc/grpc-js';
import { spanLine } from '../span-line.ts';
import {
  decodeResponse,
  type ExportRequest,
  type ExportResponse,
  hex,
  plainAttributes,
  TRACE_EXPORT_METHOD,
} from './otlp.ts';

export type SinkResult =
  | { ok: true; rejected: number }
  | { ok: false; retryable: boolean; error: string; retryAfterMs?: number };

export interface Sink {
  readonly kind: 'grpc' | 'file';
  /** Sends one encoded ExportTraceServiceRequest; never throws. */
  send(request: Buffer, decode: () => ExportRequest): Promise<SinkResult>;
  close(): Promise<void>;
}

/** Status codes the OTLP spec lists as retryable. */
const RETRYABLE = new Set([
  status.CANCELLED,
  status.DEADLINE_EXCEEDED,
  status.ABORTED,
  status.OUT_OF_RANGE,
  status.UNAVAILABLE,
  status.DATA_LOSS,
  status.RESOURCE_EXHAUSTED,
]);

/** `http://host:4317` → grpc-js target and credentials (https → TLS). */
export function grpcTarget(endpoint: string): { address: string; credentials: ChannelCredentials } {
  const u = new URL(endpoint);
  const port = u.port || (u.protocol === 'https:' ? '443' : '4317');
  return {
    address: `${u.hostname}:${port}`,
    credentials:
      u.protocol === 'https:' ? ChannelCredentials.createSsl() : ChannelCredentials.createInsecure(),
  };
}

/** OTLP/gRPC to a collector. `headers` go out as gRPC metadata (e.g. a tenant or auth header). */
export function grpcSink(endpoint: string, timeoutMs: number, headers: Record<string, string> = {}): Sink {
  const { address, credentials } = grpcTarget(endpoint);
  const client = new Client(address, credentials, {
    'grpc.max_send_message_length': 16 * 1024 * 1024,
    'grpc.keepalive_time_ms': 30_000,
  });
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return {
    kind: 'grpc',
    send(request) {
      return new Promise((resolve) => {
        client.makeUnaryRequest<Buffer, ExportResponse>(
          TRACE_EXPORT_METHOD,
          (b) => b,
          (b) => decodeResponse(b),
          request,
          metadata.clone(),
          { deadline: Date.now() + timeoutMs },
          (err, res) => {
            if (!err) {
              const rejected = Number(res?.partialSuccess?.rejectedSpans?.toString() ?? 0);
              resolve({ ok: true, rejected: Number.isFinite(rejected) ? rejected : 0 });
              return;
            }
            resolve({
              ok: false,
              retryable: RETRYABLE.has(err.code),
              error: `${status[err.code] ?? err.code}: ${err.details || err.message}`,
              retryAfterMs: retryDelayOf(err.metadata),
            });
          },
        );
      });
    },
    async close() {
      client.close();
    },
  };
}

/** A server's RetryInfo is binary; we honour the simpler `retry-after` metadata (seconds) when sent. */
function retryDelayOf(md: Metadata | undefined): number | undefined {
  const v = md?.get('retry-after')[0];
  const s = typeof v === 'string' ? Number(v) : Number.NaN;
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

/** JSON lines appended to `file`. */
export function fileSink(file: string): Sink {
  return {
    kind: 'file',
    async send(_request, decode) {
      try {
        const lines: string[] = [];
        for (const rs of decode().resourceSpans ?? []) {
          const resource = plainAttributes(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              lines.push(
                spanLine({
                  traceId: hex(s.traceId) ?? '',
                  spanId: hex(s.spanId) ?? '',
                  parentSpanId: hex(s.parentSpanId),
                  name: s.name,
                  kind: s.kind ?? 0,
                  startTimeUnixNano: String(s.startTimeUnixNano ?? 0),
                  endTimeUnixNano: String(s.endTimeUnixNano ?? 0),
                  statusCode: s.status?.code ?? 0,
                  statusMessage: s.status?.message,
                  attributes: plainAttributes(s.attributes),
                  resource,
                  links: s.links?.map((l) => ({
                    traceId: hex(l.traceId) ?? '',
                    spanId: hex(l.spanId) ?? '',
                  })),
                }),
              );
        }
        if (lines.length) await appendFile(file, `${lines.join('\n')}\n`);
        return { ok: true, rejected: 0 };
      } catch (err) {
        return { ok: false, retryable: true, error: (err as Error).message };
      }
    },
    async close() {},
  };
}
