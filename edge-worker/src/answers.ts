/** Responses the edge writes itself (refusals, redirects, errors): never cached, always explained. */
import type { EdgeCacheStatus } from '@wpfarm/common/cache-rules';

/** A response from the edge itself, with the debug headers and, for refusals, `x-edge-block`. */
export function edgeAnswer(
  status: number,
  reason: string,
  opts: { body?: string; block?: boolean; headers?: Record<string, string>; cache?: EdgeCacheStatus } = {},
): Response {
  const headers = new Headers(opts.headers);
  headers.set('content-type', headers.get('content-type') ?? 'text/plain; charset=utf-8');
  headers.set('cache-control', 'no-store');
  headers.set('x-edge-cache', opts.cache ?? 'BYPASS');
  headers.set('x-edge-cache-reason', reason);
  if (opts.block) headers.set('x-edge-block', reason);
  return new Response(opts.body ?? `${status} ${reason}\n`, { status, headers });
}
