/**
 * The bridge's HTTP side: `POST /v1/traces` (OTLP/HTTP, JSON or protobuf, gzip or not, bearer
 * token), `/healthz` for the stack's health check and `/metrics` for Prometheus. A 200 means the
 * spans are queued and will be delivered or counted as dropped; a full queue answers 429 with
 * `Retry-After` and queues none of the request, shutting down answers 503.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzip } from 'node:zlib';
import { bearerMatches } from '@wpfarm/common/bearer';
import { capConnections, timeoutOptions } from '@wpfarm/common/http-limits';
import { createServer } from '@wpfarm/common/node-http';
import type { Logger } from 'pino';
import { cleanRequest } from './clean.ts';
import type { BridgeConfig } from './config.ts';
import { type BridgeMetrics, createBridgeMetrics } from './metrics.ts';
import {
  countSpans,
  decodeProtobufRequest,
  type ExportRequest,
  encodeResponse,
  fromJson,
  OtlpInputError,
} from './otlp.ts';
import { Pipeline } from './pipeline.ts';
import { chunkResourceSpans, SpanQueue } from './queue.ts';
import { fileSink, grpcSink, type Sink } from './sinks.ts';

export interface BridgeOptions {
  config: BridgeConfig;
  logger: Logger;
  /** Host → site id for `site.id`; from the registry in server.ts. */
  siteOf?: (host: string) => string | undefined;
  /** Overrides the sink the config names (tests). */
  sink?: Sink;
}

export interface Bridge {
  server: Server;
  queue: SpanQueue;
  pipeline: Pipeline;
  metrics: BridgeMetrics;
  /** Listens on the configured host and port; resolves to the bound port. */
  listen(): Promise<number>;
  /** Refuses new spans (503), delivers what is queued within `shutdownMs`, closes. */
  close(): Promise<void>;
}

class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';
const EMPTY_PB_RESPONSE = Buffer.from(encodeResponse({}));

export function createBridge(o: BridgeOptions): Bridge {
  const { config, logger } = o;
  const queue = new SpanQueue(config.queue);
  const metrics = createBridgeMetrics(queue);
  const sink =
    o.sink ??
    (config.sink.kind === 'grpc'
      ? grpcSink(config.sink.endpoint, config.sink.timeoutMs)
      : fileSink(config.sink.file));
  const warn = throttledWarn(logger);
  const pipeline = new Pipeline(queue, sink, config.pipeline, {
    exported(n, seconds) {
      metrics.exported.inc(n);
      metrics.exportSeconds.observe(seconds);
    },
    dropped(n, reason, error) {
      metrics.dropped.inc({ reason }, n);
      warn(`dropped:${reason}`, { reason, spans: n, error }, 'spans dropped');
    },
    retried(n, error) {
      metrics.retried.inc(n);
      warn('retry', { spans: n, error }, 'export failed, retrying');
    },
  });
  let stopping = false;

  const queueFull = () =>
    new HttpError(429, 'queue full, retry later', { 'retry-after': String(pipeline.retryAfterSeconds()) });

  async function intake(req: IncomingMessage): Promise<{ type: string; body: Buffer | string }> {
    if (stopping) throw new HttpError(503, 'shutting down', { 'retry-after': '5' });
    if (!bearerMatches(req.headers.authorization, config.token))
      throw new HttpError(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer' });
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== JSON_TYPE && type !== PROTOBUF)
      throw new HttpError(415, `content-type must be ${JSON_TYPE} or ${PROTOBUF}`);
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'gzip' && encoding !== 'identity')
      throw new HttpError(415, 'content-encoding must be gzip or identity');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > config.maxBodyBytes)
      throw new HttpError(413, `body larger than ${config.maxBodyBytes} bytes`);

    // Full already: refuse before reading or parsing, so overload costs little. These spans are
    // not counted (unknown until parsed); bridge_requests_total{code="429"} counts the requests.
    if (!queue.fits(1, declared)) throw queueFull();

    let raw = await readBody(req, config.maxBodyBytes);
    if (encoding === 'gzip') raw = await gunzipLimited(raw, config.maxBodyBytes);

    let request: ExportRequest;
    try {
      request = type === PROTOBUF ? decodeProtobufRequest(raw) : fromJson(parseJson(raw));
    } catch (err) {
      if (err instanceof OtlpInputError) throw new HttpError(400, err.message);
      throw err;
    }
    const spans = countSpans(request);
    if (spans > 0) {
      cleanRequest(request, { redactQuery: config.redactQuery, siteOf: o.siteOf });
      let chunks: ReturnType<typeof chunkResourceSpans>;
      try {
        chunks = chunkResourceSpans(request.resourceSpans ?? [], config.pipeline.batchSpans);
      } catch (err) {
        throw new HttpError(400, `cannot encode the spans: ${(err as Error).message}`);
      }
      if (!queue.offer(chunks)) {
        metrics.dropped.inc({ reason: 'queue_full' }, spans);
        throw queueFull();
      }
      metrics.received.inc(spans);
      pipeline.kick();
    }
    return type === PROTOBUF ? { type: PROTOBUF, body: EMPTY_PB_RESPONSE } : { type: JSON_TYPE, body: '{}' };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/v1/traces') {
      if (req.method !== 'POST') return reply(res, 405, { error: 'use POST' }, { allow: 'POST' });
      try {
        const ok = await intake(req);
        metrics.requests.inc({ code: '200' });
        res.writeHead(200, { 'content-type': ok.type, 'content-length': Buffer.byteLength(ok.body) });
        res.end(ok.body);
      } catch (err) {
        const e =
          err instanceof HttpError ? err : new HttpError(500, 'internal error', { connection: 'close' });
        if (!(err instanceof HttpError)) logger.error({ err }, 'intake failed');
        metrics.requests.inc({ code: String(e.status) });
        // The unread rest of a body would be parsed as the next request: discard it (unparsed, so
        // a refusal stays cheap and the connection stays open), or close when it is over the limit.
        if (!req.complete && (e.status === 413 || !(await discardBody(req, config.maxBodyBytes))))
          e.headers.connection = 'close';
        reply(res, e.status, { error: e.message }, e.headers);
        if (!req.complete) req.resume();
      }
      return;
    }
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD'))
      return reply(res, stopping ? 503 : 200, {
        status: stopping ? 'stopping' : 'ok',
        sink: sink.kind,
        queueSpans: queue.spans,
        queueLimitSpans: queue.limits.maxSpans,
      });
    if (path === '/metrics' && req.method === 'GET') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(text);
      return;
    }
    reply(res, 404, { error: 'not found' });
  }

  const server = createServer(
    { maxHeaderSize: 16 * 1024, ...timeoutOptions(config.connections) },
    (req, res) => {
      handle(req, res).catch((err) => {
        logger.error({ err }, 'request failed');
        if (!res.headersSent) reply(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    },
  );

  const connections = capConnections(server, config.connections.maxConnections);
  metrics.watchConnections(connections);

  let closing: Promise<void> | undefined;
  return {
    server,
    queue,
    pipeline,
    metrics,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    },
    close() {
      closing ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((r) => server.close(() => r()));
        server.closeIdleConnections();
        await pipeline.drain(config.shutdownMs);
        server.closeAllConnections();
        await closed;
        await sink.close();
      })();
      return closing;
    },
  };
}

function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new OtlpInputError(`body is not JSON: ${(err as Error).message}`);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        reject(new HttpError(413, `body larger than ${limit} bytes`));
        return;
      }
      parts.push(c);
    };
    req.on('data', onData);
    req.once('end', () => resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size)));
    req.once('error', reject);
    req.once('aborted', () => reject(new HttpError(400, 'request aborted')));
  });
}

/** Reads and drops the rest of a body; false when it exceeds `limit` or fails. */
function discardBody(req: IncomingMessage, limit: number): Promise<boolean> {
  return new Promise((resolve) => {
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        resolve(false);
      }
    };
    req.on('data', onData);
    req.once('end', () => resolve(size <= limit));
    req.once('error', () => resolve(false));
    req.once('aborted', () => resolve(false));
  });
}

function gunzipLimited(raw: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gunzip(raw, { maxOutputLength: limit }, (err, out) => {
      if (!err) return resolve(out);
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError)
        return reject(new HttpError(413, `decompressed body larger than ${limit} bytes`));
      reject(new HttpError(400, `body is not valid gzip: ${err.message}`));
    });
  });
}

/** A warning per key at most every 10 s, with how many were suppressed. */
function throttledWarn(logger: Logger): (key: string, fields: object, msg: string) => void {
  const last = new Map<string, { at: number; suppressed: number }>();
  return (key, fields, msg) => {
    const now = Date.now();
    const l = last.get(key);
    if (l && now - l.at < 10_000) {
      l.suppressed++;
      return;
    }
    logger.warn({ ...fields, suppressed: l?.suppressed ?? 0 }, msg);
    last.set(key, { at: now, suppressed: 0 });
  };
}
