/**
 * The worker's Hono app: the purge endpoint, the visitor path, and one error handler rendering
 * EdgeError as a JSON envelope. No logic of its own beyond wiring and the per-request trace.
 */
import { bearerMatches } from '@wpfarm/common/bearer';
import { EDGE_PURGE_PATH } from '@wpfarm/common/contracts/purge';
import { Hono } from 'hono';
import { edgeAnswer } from './answers.ts';
import { configFor } from './config.ts';
import { type EdgeDeps, handleEdge, type RequestRecord } from './edge.ts';
import { EdgeError } from './errors.ts';
import { log } from './log.ts';
import { handlePurge } from './purge.ts';
import { traced } from './span.ts';
import { describeHostMap, loadStoredHostMap } from './store.ts';
import { continueTrace, newTrace } from './traceparent.ts';

/** The worker's readiness path (answered before host routing, like the purge path). */
export const EDGE_HEALTH_PATH = '/__edge/health';

const defaultDeps: EdgeDeps = { now: () => Date.now(), cache: () => caches.default };

/**
 * Builds the app.
 * @example export default buildApp();
 */
export function buildApp(deps: EdgeDeps = defaultDeps) {
  const app = new Hono<{ Bindings: Env }>();

  app.post(EDGE_PURGE_PATH, (c) => {
    // Only the purge caller is trusted to continue its trace (decision: docs/decisions/edge-tracing.md).
    const cfg = configFor(c.env);
    const trace = continueTrace(c.req.header('traceparent'), cfg.sampleRate);
    const ctx = c.executionCtx as unknown as ExecutionContext;
    return traced(c.req.raw, ctx, cfg, trace, deps.now, {}, () => handlePurge(c.req.raw, c.env, deps));
  });
  app.all(EDGE_PURGE_PATH, () => edgeAnswer(405, 'method', { headers: { allow: 'POST' } }));

  // Readiness: 200 once this isolate holds a host map (the document, or the sharded layout's
  // index), for the local farm, the benchmark and synthetic checks. It answers on every host, so
  // by itself it says only "ready" or not: the layout, its size (sites or shards) and its age go
  // to the holder of the purge token, and a failure's cause goes to the log.
  app.get(EDGE_HEALTH_PATH, async (c) => {
    const json = { 'content-type': 'application/json' };
    try {
      const cfg = configFor(c.env);
      const stored = await loadStoredHostMap(c.env.EDGE_KV, cfg.hostMapTtlMs, deps.now());
      const detail = bearerMatches(c.req.header('authorization'), cfg.purgeToken);
      const body = detail ? { ok: true, ...describeHostMap(stored) } : { ok: true };
      return edgeAnswer(200, 'health', { headers: json, body: JSON.stringify(body) });
    } catch (err) {
      log('error', 'not ready', { code: (err as EdgeError).code, error: String(err) });
      return edgeAnswer(503, 'health', { headers: json, body: JSON.stringify({ ok: false }) });
    }
  });

  app.all('*', (c) => {
    const cfg = configFor(c.env);
    const trace = newTrace(cfg.sampleRate);
    const record: RequestRecord = {};
    // Hono types its own ExecutionContext; at run time it is workerd's.
    const ctx = c.executionCtx as unknown as ExecutionContext;
    return traced(c.req.raw, ctx, cfg, trace, deps.now, record, () =>
      handleEdge(c.req.raw, c.env, ctx, deps, trace, record),
    );
  });

  app.onError((err) => {
    if (err instanceof EdgeError) {
      if (err.status >= 500) log('error', err.message, { code: err.code });
      return edgeAnswer(err.status, `error:${err.code}`, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: { code: err.code, message: err.message, field: err.field } }),
      });
    }
    log('error', 'unhandled error', { error: String(err), stack: (err as Error)?.stack });
    return edgeAnswer(500, 'error:INTERNAL', {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }),
    });
  });
  return app;
}
