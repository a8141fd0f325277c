/**
 * The edge's span per request: built when the response is known and exported to the telemetry
 * bridge with `waitUntil`, so the visitor never waits for it and an export failure never changes
 * the response. Only sampled traces are exported, and only when BRIDGE_URL and BRIDGE_TOKEN are
 * set. The span id is the one the origin received as its parent in `traceparent`.
 */
import { exportSpans } from '@wpfarm/telemetry/edge';
import type { EdgeConfig } from './config.ts';
import { EdgeError } from './errors.ts';
import { log } from './log.ts';
import type { TraceContext } from './traceparent.ts';

/** Facts about the request that end up as span attributes. */
export interface SpanFacts {
  site?: string;
  cache?: string;
  reason?: string;
}

/** One warning per isolate: a broken bridge must not flood the logs at request rate. */
let warned = false;

/**
 * Runs `handle` and, when the trace is sampled and a bridge is configured, exports its span in
 * the background (errors included: a thrown EdgeError's status, else 500).
 */
export async function traced(
  req: Request,
  ctx: ExecutionContext,
  cfg: EdgeConfig,
  trace: TraceContext,
  now: () => number,
  facts: SpanFacts,
  handle: () => Promise<Response>,
): Promise<Response> {
  const { bridgeUrl, bridgeToken } = cfg;
  if (!trace.sampled || !bridgeUrl || !bridgeToken) return handle();
  const startMs = now();
  let status = 500;
  try {
    const res = await handle();
    status = res.status;
    return res;
  } catch (err) {
    if (err instanceof EdgeError) status = err.status;
    throw err;
  } finally {
    const url = new URL(req.url);
    const span = {
      traceId: trace.traceId,
      spanId: trace.spanId,
      parentSpanId: trace.parentSpanId,
      name: req.method,
      startMs,
      endMs: now(),
      method: req.method,
      path: url.pathname,
      status,
      host: url.hostname.toLowerCase().replace(/\.$/, ''),
      scheme: url.protocol.replace(/:$/, ''),
      siteId: facts.site,
      cacheStatus: facts.cache,
      cacheReason: facts.reason,
    };
    ctx.waitUntil(
      exportSpans((input, init) => fetch(input, init), bridgeUrl, bridgeToken, [span]).then((r) => {
        if (r.ok || warned) return;
        warned = true;
        log('warn', 'span export to the bridge failed (further failures in this isolate are not logged)', {
          error: r.error,
          status: r.status,
        });
      }),
    );
  }
}
