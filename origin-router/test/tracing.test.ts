/**
 * Tracing through @opentelemetry/api, in process (buildApp) against a real varnishd. The SDK is
 * the telemetry package's job; here a small recording tracer provider and a W3C traceparent
 * propagator written against the API interfaces stand in for it (recording-tracer stand-in).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Attributes,
  type Context,
  context,
  propagation,
  type Span,
  type SpanContext,
  type SpanKind,
  type SpanStatus,
  type TextMapPropagator,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type DemoOrigin, startDemoOrigin } from '@wpfarm/common/peers/demo-origin';
import { startVarnish, type VarnishInstance } from '@wpfarm/common/peers/varnish';
import { parseRegistry } from '@wpfarm/common/registry/load';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTracing } from '../src/tracing.ts';
import { get } from './harness.ts';

interface Recorded {
  name: string;
  kind: SpanKind | undefined;
  attributes: Attributes;
  context: SpanContext;
  parentSpanId: string | undefined;
  status: SpanStatus | undefined;
}

const ended: Recorded[] = [];
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const recordingTracer: Tracer = {
  startSpan(name, opts = {}, ctx = context.active()) {
    const parent = opts.root ? undefined : trace.getSpanContext(ctx);
    const rec: Recorded = {
      name,
      kind: opts.kind,
      attributes: { ...opts.attributes },
      context: { traceId: parent?.traceId ?? hex(16), spanId: hex(8), traceFlags: 1 },
      parentSpanId: parent?.spanId,
      status: undefined,
    };
    const span: Span = {
      spanContext: () => rec.context,
      setAttribute(k, v) {
        if (v !== undefined) rec.attributes[k] = v;
        return span;
      },
      setAttributes(a) {
        Object.assign(rec.attributes, a);
        return span;
      },
      addEvent: () => span,
      addLink: () => span,
      addLinks: () => span,
      setStatus(s) {
        rec.status = s;
        return span;
      },
      updateName: () => span,
      end: () => void ended.push(rec),
      isRecording: () => true,
      recordException: () => {},
    };
    return span;
  },
  startActiveSpan() {
    throw new Error('not used by the router');
  },
};

const w3c: TextMapPropagator = {
  inject(ctx: Context, carrier: unknown, setter) {
    const sc = trace.getSpanContext(ctx);
    if (sc) setter.set(carrier, 'traceparent', `00-${sc.traceId}-${sc.spanId}-01`);
  },
  extract(ctx: Context, carrier: unknown, getter) {
    const v = getter.get(carrier, 'traceparent');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(
      Array.isArray(v) ? (v[0] ?? '') : (v ?? ''),
    );
    if (!m) return ctx;
    return trace.setSpanContext(ctx, { traceId: m[1]!, spanId: m[2]!, traceFlags: 1, isRemote: true });
  },
  fields: () => ['traceparent'],
};

const registry = parseRegistry(`
version: 1
sites:
  - { id: alpha, host: alpha.farm.test, upstream: "http://127.0.0.1:1", webhookSecretRef: W }
`);
const key = 'k'.repeat(40);
let dir: string;
let origin: DemoOrigin;
let varnish: VarnishInstance;
let app: App;
let url: string;

describe('tracing', () => {
  it('is off (no span work) when no SDK is registered', () => {
    expect(createTracing().enabled).toBe(false);
  });

  describe('with a tracer provider registered', () => {
    beforeAll(async () => {
      trace.setGlobalTracerProvider({ getTracer: () => recordingTracer });
      propagation.setGlobalPropagator(w3c);
      dir = mkdtempSync(join(tmpdir(), 'router-trace-'));
      chmodSync(dir, 0o755);
      origin = await startDemoOrigin({ registry, pageBytes: 512 });
      varnish = await startVarnish({
        dir: join(dir, 'v'),
        backend: { host: '127.0.0.1', port: origin.port },
      });
      const config = loadConfig({
        ROUTER_ROLE: 'front',
        REGISTRY_FILE: join(dir, 'unused.yaml'),
        VARNISH_NODES: `v1=127.0.0.1:${varnish.port}`,
        EDGE_AUTH_KEYS: key,
      });
      app = buildApp({ config, registry, logger: pino({ level: 'silent' }) });
      await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await app?.close();
      await varnish?.stop();
      await origin?.close();
      rmSync(dir, { recursive: true, force: true });
      trace.disable();
      propagation.disable();
    });

    it('continues the incoming trace: a server span and one client span per attempt with the node and x-cache', async () => {
      const traceId = hex(16);
      const parent = hex(8);
      const headers = {
        'x-edge-auth': key,
        'x-edge-host': 'alpha.farm.test',
        traceparent: `00-${traceId}-${parent}-01`,
      };
      expect((await get(`${url}/traced/`, headers)).status).toBe(200);
      expect((await get(`${url}/traced/`, headers)).status).toBe(200);
      const mine = ended.filter((s) => s.context.traceId === traceId);
      const servers = mine.filter((s) => s.name === 'GET');
      const clients = mine.filter((s) => s.name === 'varnish v1');
      expect(servers).toHaveLength(2);
      expect(clients).toHaveLength(2);
      for (const s of servers) expect(s.parentSpanId).toBe(parent);
      expect(clients.map((c) => c.parentSpanId)).toEqual(servers.map((s) => s.context.spanId));
      expect(clients.map((c) => c.attributes['cache.status'])).toEqual(['MISS', 'HIT']);
      expect(clients[0]!.attributes['cache.node']).toBe('v1');
      expect(servers[0]!.attributes['http.response.status_code']).toBe(200);
      // Semantic conventions: host and port apart, never a URL; the site on the server span.
      expect(servers[0]!.attributes['server.address']).toBe('127.0.0.1');
      expect(servers[0]!.attributes['site.id']).toBe('alpha');
      expect(clients[0]!.attributes['server.address']).toBe('127.0.0.1');
      expect(clients[0]!.attributes['server.port']).toBeTypeOf('number');
    });
  });
});
