/**
 * The SDK start behind the preload (register.ts), importable without side effects (tests).
 * - OTEL_SDK_DISABLED=true, or neither OTEL_EXPORTER_OTLP_ENDPOINT nor TELEMETRY_FILE: nothing is loaded (cost ~0).
 * - OTEL_EXPORTER_OTLP_ENDPOINT: OTLP/gRPC exporter. TELEMETRY_FILE (and no endpoint): JSON lines to that file.
 */
import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { spanLine } from './span-line.ts';

const hrNanos = ([sec, ns]: [number, number]): string => String(BigInt(sec) * 1_000_000_000n + BigInt(ns));

/** Options decided once from the environment; pure, for tests. */
export interface RegisterOptions {
  mode: 'off' | 'grpc' | 'file';
  endpoint?: string;
  file?: string;
  serviceName: string;
  serviceVersion: string;
  environment: string;
  ratio: number;
  shutdownMs: number;
}

/** Decides what register does from an environment; throws naming the bad variable. */
export function registerOptions(env: Record<string, string | undefined>): RegisterOptions {
  const ratio = env.OTEL_TRACES_SAMPLER_ARG === undefined ? 1 : Number(env.OTEL_TRACES_SAMPLER_ARG);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new Error(`OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1], got ${env.OTEL_TRACES_SAMPLER_ARG}`);
  }
  const shutdownMs = env.TELEMETRY_SHUTDOWN_MS === undefined ? 5000 : Number(env.TELEMETRY_SHUTDOWN_MS);
  if (!Number.isInteger(shutdownMs) || shutdownMs < 0 || shutdownMs > 60_000) {
    throw new Error(`TELEMETRY_SHUTDOWN_MS must be an integer 0..60000, got ${env.TELEMETRY_SHUTDOWN_MS}`);
  }
  const base = {
    serviceName: env.OTEL_SERVICE_NAME || 'unknown_service:node',
    serviceVersion: env.SERVICE_VERSION || '0.0.0',
    environment: env.DEPLOYMENT_ENVIRONMENT || 'local',
    ratio,
    shutdownMs,
  };
  if (env.OTEL_SDK_DISABLED === 'true') return { mode: 'off', ...base };
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT)
    return { mode: 'grpc', endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, ...base };
  if (env.TELEMETRY_FILE) return { mode: 'file', file: env.TELEMETRY_FILE, ...base };
  return { mode: 'off', ...base };
}

/** Starts the SDK per the options; returns its shutdown, or undefined when off. */
export async function startTelemetry(o: RegisterOptions): Promise<(() => Promise<void>) | undefined> {
  if (o.mode === 'off') return undefined;
  // Loaded lazily so the "off" path costs nothing.
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = await import(
    '@opentelemetry/sdk-trace'
  );
  const { resourceFromAttributes } = await import('@opentelemetry/resources');
  type Exporter = ConstructorParameters<typeof BatchSpanProcessor>[0]['exporter'];
  let exporter: Exporter;
  if (o.mode === 'grpc') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-grpc');
    exporter = new OTLPTraceExporter({ url: o.endpoint, timeoutMillis: 5000 }) as unknown as Exporter;
  } else {
    const file = o.file as string;
    // Synchronous append: a batch handed to export is on disk before the process can exit.
    exporter = {
      export(spans, done) {
        try {
          const lines = spans.map((s) => {
            const ctx = s.spanContext();
            return spanLine({
              traceId: ctx.traceId,
              spanId: ctx.spanId,
              parentSpanId: s.parentSpanContext?.spanId,
              name: s.name,
              kind: s.kind + 1, // the SDK's SpanKind starts at INTERNAL = 0, OTLP's at UNSPECIFIED
              startTimeUnixNano: hrNanos(s.startTime),
              endTimeUnixNano: hrNanos(s.endTime),
              statusCode: s.status.code,
              statusMessage: s.status.message,
              attributes: s.attributes,
              resource: s.resource.attributes,
              links: s.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
            });
          });
          if (lines.length) appendFileSync(file, `${lines.join('\n')}\n`);
          done({ code: 0 });
        } catch (error) {
          done({ code: 1, error: error as Error });
        }
      },
      shutdown: async () => {},
    };
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': o.serviceName,
      'service.version': o.serviceVersion,
      'deployment.environment': o.environment,
      'host.name': hostname(),
    }) as never,
    autoDetectResources: false,
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(o.ratio) }),
    spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 1000 })],
  });
  sdk.start();
  let done: Promise<void> | undefined;
  return () => {
    done ??= Promise.race([
      sdk.shutdown().catch(() => {}),
      new Promise<void>((r) => setTimeout(r, o.shutdownMs).unref()),
    ]);
    return done;
  };
}
