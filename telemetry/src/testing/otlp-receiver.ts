/**
 * A real OTLP/gRPC trace receiver for tests and benchmarks: a @grpc/grpc-js server speaking
 * `opentelemetry.proto.collector.trace.v1.TraceService/Export` with the code generated from the
 * official OTLP protos. It records every span it acknowledges and can be told to fail
 * (UNAVAILABLE, INVALID_ARGUMENT) or to report partially rejected spans.
 */
import {
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceDefinition,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import {
  decodeRequest,
  type ExportRequest,
  type ExportResponse,
  encodeResponse,
  hex,
  plainAttributes,
  TRACE_EXPORT_METHOD,
} from '../bridge/otlp.ts';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
}

export type ReceiverMode = 'ok' | 'unavailable' | 'invalid' | { rejectEvery: number };

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: string;
  port: number;
  /** Spans acknowledged so far (not those answered with an error or rejected). */
  spans: ReceivedSpan[];
  /** Export calls received, whatever the answer. */
  calls: number;
  /** Span count per call received (re-batching is visible here). */
  batchSizes: number[];
  mode: ReceiverMode;
  /** Count-only: skip keeping spans (benchmarks). */
  countOnly: boolean;
  received: number;
  stop(): Promise<void>;
}

const SERVICE: ServiceDefinition = {
  Export: {
    path: TRACE_EXPORT_METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: Uint8Array) => Buffer.from(r),
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (r: ExportResponse) => Buffer.from(encodeResponse(r)),
    responseDeserialize: (b: Buffer) => b,
  },
};

/** Starts a receiver on 127.0.0.1 (`port` 0 = any free port; give the old port to "restart"). */
export async function startOtlpReceiver(port = 0, opts: { countOnly?: boolean } = {}): Promise<OtlpReceiver> {
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const r: OtlpReceiver = {
    endpoint: '',
    port: 0,
    spans: [],
    calls: 0,
    batchSizes: [],
    mode: 'ok',
    countOnly: opts.countOnly ?? false,
    received: 0,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
  server.addService(SERVICE, {
    Export(call: ServerUnaryCall<Buffer, ExportResponse>, done: sendUnaryData<ExportResponse>) {
      r.calls++;
      const mode = r.mode;
      if (mode === 'unavailable') return done({ code: status.UNAVAILABLE, details: 'receiver stand-by' });
      if (mode === 'invalid') return done({ code: status.INVALID_ARGUMENT, details: 'refused by test' });
      const req: ExportRequest = decodeRequest(call.request);
      let n = 0;
      let rejected = 0;
      for (const rs of req.resourceSpans ?? []) {
        const resource = r.countOnly ? {} : plainAttributes(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? []) {
            n++;
            if (typeof mode === 'object' && n % mode.rejectEvery === 0) {
              rejected++;
              continue;
            }
            r.received++;
            if (r.countOnly) continue;
            r.spans.push({
              traceId: hex(s.traceId) ?? '',
              spanId: hex(s.spanId) ?? '',
              parentSpanId: hex(s.parentSpanId),
              name: s.name,
              kind: s.kind ?? 0,
              attributes: plainAttributes(s.attributes),
              resource,
            });
          }
      }
      r.batchSizes.push(n);
      done(
        null,
        rejected ? { partialSuccess: { rejectedSpans: rejected, errorMessage: 'test rejection' } } : {},
      );
    },
  });
  r.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  r.endpoint = `http://127.0.0.1:${r.port}`;
  return r;
}
