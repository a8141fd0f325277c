/**
 * The bridge's configuration, read once from the environment and validated; every problem is
 * reported at once, naming the variable. server.ts is the only caller with the real process.env.
 * The destination is the same variable the preload uses: OTEL_EXPORTER_OTLP_ENDPOINT (a collector
 * over gRPC), else TELEMETRY_FILE (JSON lines, the local farm).
 */
import { type Env, envReader } from '@wpfarm/common/config/env';
import { CONNECTION_LIMIT_DEFAULTS, type ConnectionLimits } from '@wpfarm/common/http-limits';
import type { PipelineOptions } from './pipeline.ts';

export interface BridgeConfig {
  host: string;
  port: number;
  logLevel: string;
  /** Bearer token the edge presents (BRIDGE_TOKEN or BRIDGE_TOKEN_FILE). */
  token: string;
  sink: { kind: 'grpc'; endpoint: string; timeoutMs: number } | { kind: 'file'; file: string };
  maxBodyBytes: number;
  queue: { maxSpans: number; maxBytes: number };
  pipeline: PipelineOptions;
  redactQuery: boolean;
  /** Site registry for `site.id`; optional. */
  registryFile: string | undefined;
  /** Time allowed to deliver what is queued on SIGTERM (below the stack's stop_grace_period). */
  shutdownMs: number;
  /** What a client connection may hold: a silent one is closed after the headers timeout. */
  connections: ConnectionLimits;
}

export function loadBridgeConfig(env: Env, readFile?: (p: string) => string): BridgeConfig {
  const r = envReader(env, readFile);
  const endpoint = r.opt('OTEL_EXPORTER_OTLP_ENDPOINT') ? r.url('OTEL_EXPORTER_OTLP_ENDPOINT') : undefined;
  const file = r.opt('TELEMETRY_FILE');
  if (!endpoint && !file)
    r.problem('set OTEL_EXPORTER_OTLP_ENDPOINT (the collector, OTLP/gRPC) or TELEMETRY_FILE (JSON lines)');
  const batchSpans = r.int('BRIDGE_BATCH_SPANS', 2048, 1, 100_000);
  const maxSpans = r.int('BRIDGE_QUEUE_MAX_SPANS', 200_000, 1, 10_000_000);
  if (maxSpans < batchSpans) r.problem('BRIDGE_QUEUE_MAX_SPANS must be at least BRIDGE_BATCH_SPANS');
  const retryInitialMs = r.int('BRIDGE_RETRY_INITIAL_MS', 200, 1, 60_000);
  const config: BridgeConfig = {
    host: r.str('BRIDGE_HOST', '127.0.0.1'),
    port: r.int('BRIDGE_PORT', 4318, 0, 65535),
    logLevel: r.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace'], 'info'),
    token: r.secret('BRIDGE_TOKEN', { required: true, minLength: 16 }) ?? '',
    sink: endpoint
      ? { kind: 'grpc', endpoint, timeoutMs: r.int('BRIDGE_EXPORT_TIMEOUT_MS', 5000, 100, 60_000) }
      : { kind: 'file', file: file ?? '' },
    maxBodyBytes: r.int('BRIDGE_MAX_BODY_BYTES', 4 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    queue: { maxSpans, maxBytes: r.int('BRIDGE_QUEUE_MAX_BYTES', 128 * 1024 * 1024, 64 * 1024, 2 ** 31 - 1) },
    pipeline: {
      batchSpans,
      batchBytes: r.int('BRIDGE_BATCH_MAX_BYTES', 3 * 1024 * 1024, 1024, 16 * 1024 * 1024),
      delayMs: r.int('BRIDGE_BATCH_DELAY_MS', 200, 1, 60_000),
      concurrency: r.int('BRIDGE_EXPORT_CONCURRENCY', 4, 1, 64),
      retryInitialMs,
      retryMaxMs: r.int('BRIDGE_RETRY_MAX_MS', 5000, retryInitialMs, 300_000),
      retryMaxElapsedMs: r.int('BRIDGE_RETRY_MAX_ELAPSED_MS', 300_000, 0, 3_600_000),
    },
    redactQuery: r.bool('BRIDGE_REDACT_QUERY', false),
    registryFile: r.opt('REGISTRY_FILE'),
    shutdownMs: r.int('BRIDGE_SHUTDOWN_MS', 10_000, 0, 120_000),
    connections: {
      headersTimeoutMs: r.int(
        'BRIDGE_HEADERS_TIMEOUT_MS',
        CONNECTION_LIMIT_DEFAULTS.headersTimeoutMs,
        100,
        600_000,
      ),
      requestTimeoutMs: r.int(
        'BRIDGE_REQUEST_TIMEOUT_MS',
        CONNECTION_LIMIT_DEFAULTS.requestTimeoutMs,
        100,
        600_000,
      ),
      // The edge's exports arrive through Cloudflare, which keeps upstream connections ~60 s idle.
      keepAliveTimeoutMs: r.int('BRIDGE_KEEPALIVE_TIMEOUT_MS', 65_000, 100, 3_600_000),
      maxConnections: r.int('BRIDGE_MAX_CONNECTIONS', CONNECTION_LIMIT_DEFAULTS.maxConnections, 1, 1_000_000),
    },
  };
  r.done();
  return config;
}
