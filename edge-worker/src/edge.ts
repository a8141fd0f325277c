/**
 * The visitor path: host → site, bot gate, then either a pass-through (bypass) or the cached path
 * (lookup, freshness, stale-while-revalidate with one refresh per key, stale-if-error).
 */

import { normalisePath, VISITOR_METHODS } from '@wpfarm/common/cache-rules';
import { edgeAnswer } from './answers.ts';
import { botGate } from './bot-gate.ts';
import { cacheKeyUrl, deviceVariant, pageKey } from './cache-key.ts';
import { configFor, type EdgeConfig } from './config.ts';
import { type EdgeSite, normaliseRequestHost, routeNormalisedHost } from './host-map.ts';
import { log } from './log.ts';
import {
  fetchOrigin,
  type KeyedPage,
  keyedRequest,
  OriginFailure,
  passRequest,
  visitorAddress,
} from './origin.ts';
import { entryPurged } from './purge-state.ts';
import { requestPolicy } from './request-policy.ts';
import { freshness, responsePolicy } from './response-policy.ts';
import type { SpanFacts } from './span.ts';
import { loadHostMapFor, loadPurgeState } from './store.ts';
import { readMeta, responseTags, toClient, toStored, withStatus } from './stored.ts';
import type { TraceContext } from './traceparent.ts';

/** What the handlers need beyond the bindings; injectable for tests and benchmarks. */
export interface EdgeDeps {
  now: () => number;
  cache: () => Cache;
}

/** Per-request facts the span exporter reports. */
export type RequestRecord = SpanFacts;

/**
 * Paths the worker owns: never forwarded, never a cache key a visitor can reach. Matched on the
 * normalised path, so `/__EDGE/…`, `//__edge/…` and `/%5F%5Fedge/…` are reserved too.
 */
const RESERVED_PREFIX = '/__edge';

/** The `Allow` header of a 405: the visitor methods. */
const ALLOW = VISITOR_METHODS.join(', ');

/** True when a path, however spelled, is one of the worker's own. */
export function isReservedPath(pathname: string): boolean {
  return normalisePath(pathname).startsWith(RESERVED_PREFIX);
}

/** Background refreshes running in this isolate, by cache key: at most one per key. */
const refreshing = new Map<string, Promise<void>>();

interface Visit {
  req: Request;
  url: URL;
  env: Env;
  ctx: ExecutionContext;
  cfg: EdgeConfig;
  deps: EdgeDeps;
  site: EdgeSite;
  host: string;
  trace: TraceContext;
}

/** Handles one visitor request. */
export async function handleEdge(
  req: Request,
  env: Env,
  ctx: ExecutionContext,
  deps: EdgeDeps,
  trace: TraceContext,
  record: RequestRecord,
): Promise<Response> {
  const cfg = configFor(env);
  const url = new URL(req.url);
  // PURGE, BAN, TRACE, PROPFIND…: nothing a WordPress visitor needs, and the purge methods must
  // never reach Varnish from the internet (it sees every edge request as coming from the router).
  if (!VISITOR_METHODS.includes(req.method))
    return edgeAnswer(405, 'method:not-allowed', { block: true, headers: { allow: ALLOW } });
  if (isReservedPath(url.pathname)) return edgeAnswer(404, 'path:reserved', { block: true });
  // A host that is no host name at all (an IP literal, garbage) is unknown without a KV read.
  const host = normaliseRequestHost(url.host);
  const map = host
    ? await loadHostMapFor(env.EDGE_KV, 'host', host, cfg.hostMapTtlMs, deps.now())
    : undefined;
  const route = routeNormalisedHost(map, host, url);
  if (route.kind === 'unknown') {
    log('warn', 'unknown host', { host: url.host });
    return edgeAnswer(421, 'host:unknown', { block: true, body: 'No site is served at this host.\n' });
  }
  record.site = route.site.id;
  if (route.kind === 'redirect')
    return edgeAnswer(301, 'host:alias-redirect', { headers: { location: route.location }, body: '' });
  const site = route.site;

  const cf = (req as { cf?: { botManagement?: { verifiedBot?: boolean } } }).cf;
  const gate = botGate({
    method: req.method,
    path: url.pathname,
    userAgent: req.headers.get('user-agent') ?? '',
    verifiedBot: cf?.botManagement?.verifiedBot,
    xmlrpcAllowed: site.policy.xmlrpc,
    uaBlocklist: cfg.uaBlocklist,
  });
  const ip = req.headers.get('cf-connecting-ip') ?? 'unknown';
  if (gate.action === 'refuse') {
    log('info', 'refused', { site: site.id, reason: gate.reason, ip, path: url.pathname });
    return edgeAnswer(gate.status, gate.reason, { block: true });
  }
  if (gate.action === 'limit') {
    const { success } = await env.LOGIN_LIMITER.limit({ key: `${gate.bucket}:${site.id}:${ip}` });
    if (!success) {
      const reason = `ratelimit:${gate.bucket}`;
      log('info', 'refused', { site: site.id, reason, ip, path: url.pathname });
      return edgeAnswer(429, reason, { block: true, headers: { 'retry-after': '60' } });
    }
  }

  const verdict = requestPolicy(
    {
      method: req.method,
      url,
      cookie: req.headers.get('cookie'),
      authorization: req.headers.has('authorization'),
    },
    site.policy,
  );
  const visit: Visit = { req, url, env, ctx, cfg, deps, site, host: route.host, trace };
  if (!verdict.cache) return pass(visit, verdict.reason, record);
  return cached(visit, record);
}

/** Forwards a request the cache must not touch, cookies and body included. */
async function pass(v: Visit, reason: string, record: RequestRecord): Promise<Response> {
  record.cache = 'BYPASS';
  record.reason = reason;
  const oreq = passRequest(v.req, v.cfg, { host: v.host, trace: v.trace });
  try {
    return withStatus(await fetchOrigin(oreq, v.cfg.originTimeoutMs), 'BYPASS', reason);
  } catch (err) {
    return originDown(err, 'BYPASS', record);
  }
}

function originDown(err: unknown, status: 'BYPASS' | 'MISS', record: RequestRecord): Response {
  const kind = err instanceof OriginFailure ? err.kind : 'network';
  record.reason = `origin:${kind}`;
  log('error', 'origin fetch failed', {
    kind,
    site: record.site,
    error: String((err as Error)?.cause ?? err),
  });
  return edgeAnswer(kind === 'timeout' ? 504 : 502, `origin:${kind}`, { cache: status });
}

async function cached(v: Visit, record: RequestRecord): Promise<Response> {
  const { req, url, cfg, deps, site } = v;
  const head = req.method === 'HEAD';
  const now = deps.now();
  const page = pageKey(url);
  const state = await loadPurgeState(v.env.EDGE_KV, site.id, cfg.purgeStateTtlMs, now);
  const parts: KeyedPage = {
    scheme: url.protocol.slice(0, -1),
    host: v.host,
    device: deviceVariant(req.headers.get('user-agent'), site.policy.deviceVariants),
    page,
  };
  const key = cacheKeyUrl({ ...parts, version: state.v });
  const cache = deps.cache();
  const entry = await cache.match(key);
  let fallback: Response | undefined;
  let missReason = 'not-cached';
  if (entry) {
    const meta = readMeta(entry);
    if (!meta) missReason = 'foreign-entry';
    else if (entryPurged(state, page, meta.tags, meta.stored)) missReason = 'purged';
    else {
      const f = freshness((now - meta.stored) / 1000, meta);
      if (f === 'fresh') return done(record, toClient(entry, 'HIT', 'fresh', { head, now }));
      if (f === 'stale') {
        v.ctx.waitUntil(refresh(v, key, parts));
        return done(record, toClient(entry, 'STALE', 'revalidating', { head, now }));
      }
      if (f === 'error-only') fallback = entry;
      missReason = 'expired';
    }
  }

  const oreq = keyedRequest(cfg, { ...parts, trace: v.trace, address: visitorAddress(req) });
  let res: Response;
  try {
    res = await fetchOrigin(oreq, cfg.originTimeoutMs);
  } catch (err) {
    if (fallback) {
      const kind = err instanceof OriginFailure ? err.kind : 'network';
      return done(record, toClient(fallback, 'STALE', `origin:${kind}`, { head, now }));
    }
    return originDown(err, 'MISS', record);
  }
  if (res.status >= 500 && fallback) {
    v.ctx.waitUntil(res.body?.cancel() ?? Promise.resolve());
    return done(record, toClient(fallback, 'STALE', `origin:${res.status}`, { head, now }));
  }
  const decision = responsePolicy(res.status, res.headers, site.policy);
  if (!decision.store) return done(record, toClient(res, 'BYPASS', decision.reason, { head, now }));
  const stored = toStored(res, decision, responseTags(res.headers), now);
  v.ctx.waitUntil(
    cache
      .put(key, stored.clone())
      .catch((err) => log('warn', 'cache put failed', { site: site.id, error: String(err) })),
  );
  const status = missReason === 'expired' ? 'EXPIRED' : 'MISS';
  return done(record, toClient(stored, status, missReason, { head, now }));
}

function done(record: RequestRecord, res: Response): Response {
  record.cache = res.headers.get('x-edge-cache') ?? undefined;
  record.reason = res.headers.get('x-edge-cache-reason') ?? undefined;
  return res;
}

/** The Cache API key of the marker that says "a refresh of `key` is running in this colo". */
export function refreshLockKey(key: string): string {
  return key.replace('/__edge-cache/', '/__edge-lock/');
}

/**
 * Refreshes a stale entry in the background; concurrent stale hits on the same key in this
 * isolate share one origin fetch. The fetch is built from the key alone, never from the visitor
 * whose hit started it (a visitor's `Range` once made it a 206 that deleted the entry). A failed
 * or 5xx refresh keeps the old entry (stale-if-error).
 */
function refresh(v: Visit, key: string, parts: KeyedPage): Promise<void> {
  const running = refreshing.get(key);
  if (running) return running;
  const oreq = keyedRequest(v.cfg, { ...parts, trace: v.trace, address: undefined });
  const cache = v.deps.cache();
  const lock = refreshLockKey(key);
  const job = (async () => {
    // Other isolates of this data centre share the Cache API: a short-lived marker entry keeps
    // them from refreshing the same key at the same time (best effort: match-then-put is not
    // atomic). It expires by itself if this isolate dies mid-refresh.
    if (await cache.match(lock)) return;
    const lockSeconds = Math.ceil(v.cfg.originTimeoutMs / 1000) + 5;
    await cache.put(lock, new Response('1', { headers: { 'cache-control': `max-age=${lockSeconds}` } }));
    try {
      const res = await fetchOrigin(oreq, v.cfg.originTimeoutMs);
      const decision = responsePolicy(res.status, res.headers, v.site.policy);
      if (decision.store) {
        await cache.put(key, toStored(res, decision, responseTags(res.headers), v.deps.now()));
      } else {
        await res.body?.cancel();
        // The page stopped being cacheable (not a failure): drop the entry rather than serve it on.
        if (res.status < 500) await cache.delete(key);
      }
    } catch (err) {
      log('warn', 'background refresh failed', { site: v.site.id, key, error: String(err) });
    } finally {
      await cache.delete(lock);
    }
  })().finally(() => refreshing.delete(key));
  refreshing.set(key, job);
  return job;
}
