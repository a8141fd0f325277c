/**
 * End to end: one request through the local farm (workerd → origin-router front → Varnish →
 * origin-router back → demo origin) yields spans with one trace id from the edge (through the
 * bridge) and both router roles (through the preload), all received by a real OTLP/gRPC receiver.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { freeFarmBase } from '@wpfarm/common/testing/farm-ports';
import { rawRequest } from '@wpfarm/common/testing/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OtlpReceiver, startOtlpReceiver } from '../src/testing/otlp-receiver.ts';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'infra/local-farm/cli.ts');

describe('one trace across the farm', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'farm-trace-'));
  let base = 0;
  let rx: OtlpReceiver;
  const farm = (args: string[]) =>
    run(process.execPath, [CLI, ...args, `--run-dir=${runDir}`], {
      cwd: ROOT,
      env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint },
      timeout: 180_000,
    });

  beforeAll(async () => {
    rx = await startOtlpReceiver();
    base = await freeFarmBase();
    await farm([
      'start',
      '--detach',
      '--only=demo-origin,varnish,origin-router,telemetry-bridge,edge-worker',
      `--base-port=${base}`,
    ]);
  }, 200_000);

  afterAll(async () => {
    await farm(['stop']).catch(() => {});
    await rx?.stop();
    rmSync(runDir, { recursive: true, force: true });
  });

  it('edge, router-front and router-back spans share the trace id, parent to child', async () => {
    const path = `/trace-e2e-${Date.now()}/`;
    const res = await rawRequest(`http://127.0.0.1:${base + 50}${path}`, {
      headers: { host: 'alpha.farm.test' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toContain('site-alpha');

    const deadline = Date.now() + 20_000;
    const edgeSpan = () =>
      rx.spans.find((s) => s.resource['service.name'] === 'edge-worker' && s.attributes['url.path'] === path);
    let traceSpans: OtlpReceiver['spans'] = [];
    const services = () => new Set(traceSpans.map((s) => s.resource['service.name']));
    while (Date.now() < deadline) {
      const edge = edgeSpan();
      if (edge) traceSpans = rx.spans.filter((s) => s.traceId === edge.traceId);
      if (services().has('origin-router-front') && services().has('origin-router-back')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const edge = edgeSpan();
    expect(edge, 'the edge span reached the receiver through the bridge').toBeDefined();
    expect([...services()].sort()).toEqual(['edge-worker', 'origin-router-back', 'origin-router-front']);

    const byId = new Map(traceSpans.map((s) => [s.spanId, s]));
    const frontServer = traceSpans.find(
      (s) => s.resource['service.name'] === 'origin-router-front' && s.kind === 2,
    );
    // The front router's server span is a child of the edge span.
    expect(frontServer?.parentSpanId).toBe(edge?.spanId);
    // The back router's server span descends from the front router's Varnish attempt (a MISS).
    const backServer = traceSpans.find(
      (s) => s.resource['service.name'] === 'origin-router-back' && s.kind === 2,
    );
    const attempt = byId.get(backServer?.parentSpanId ?? '');
    expect(attempt?.resource['service.name']).toBe('origin-router-front');
    expect(attempt?.attributes['cache.status']).toBe('MISS');
    expect(edge?.attributes['site.id']).toBe('alpha');
  });
});
