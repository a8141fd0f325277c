/**
 * Realistic edge spans for the telemetry benchmark: the attributes the edge worker sends, random
 * ids, as OTLP/HTTP JSON (what the edge posts) and as an encoded ExportTraceServiceRequest (what a
 * direct gRPC client would send).
 */
import { randomBytes } from 'node:crypto';
import { encodeRequest, fromJson } from '@wpfarm/telemetry/bridge/otlp';

const PATHS = ['/', '/2026/11/hello-world/', '/shop/', '/category/news/', '/wp-json/wp/v2/posts'];

/** One OTLP/HTTP JSON body of `n` edge spans. */
export function edgeJsonBody(n: number): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: n }, (_, i) => ({
    traceId: randomBytes(16).toString('hex'),
    spanId: randomBytes(8).toString('hex'),
    name: 'GET',
    kind: 2,
    startTimeUnixNano: String(now),
    endTimeUnixNano: String(now + 4_000_000n),
    attributes: [
      { key: 'http.request.method', value: { stringValue: 'GET' } },
      { key: 'url.path', value: { stringValue: PATHS[i % PATHS.length] } },
      { key: 'url.scheme', value: { stringValue: 'https' } },
      { key: 'server.address', value: { stringValue: 'alpha.farm.test' } },
      { key: 'http.response.status_code', value: { intValue: '200' } },
      { key: 'site.id', value: { stringValue: 'alpha' } },
      { key: 'cache.status', value: { stringValue: i % 5 === 0 ? 'MISS' : 'HIT' } },
      { key: 'cache.reason', value: { stringValue: i % 5 === 0 ? 'cold' : 'fresh' } },
    ],
    status: {},
  }));
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'edge-worker' } }] },
        scopeSpans: [{ scope: { name: '@wpfarm/telemetry/edge' }, spans }],
      },
    ],
  });
}

/** The same spans as an encoded protobuf ExportTraceServiceRequest. */
export function edgeProtobufRequest(n: number): Buffer {
  return Buffer.from(encodeRequest(fromJson(JSON.parse(edgeJsonBody(n)))));
}
