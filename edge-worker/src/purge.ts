/**
 * `POST /__edge/purge`: the cache-purger's control endpoint. Bearer token compared in constant
 * time; body validated by the shared contract; a site-wide purge is one KV write (version bump);
 * URL and tag purges are recorded in the site's purge state (global, via KV) and URL entries of
 * this data centre are deleted from the Cache API at once.
 */
import { bearerMatches } from '@wpfarm/common/bearer';
import { restApiOtherSpelling } from '@wpfarm/common/cache-rules';
import { PURGE_LIMITS, validatePurgeRequest } from '@wpfarm/common/contracts/purge';
import { cacheKeyUrl, deviceVariants, pageKey } from './cache-key.ts';
import { configFor } from './config.ts';
import type { EdgeDeps } from './edge.ts';
import { EdgeError } from './errors.ts';
import { type EdgeSite, normaliseRequestHost } from './host-map.ts';
import { log } from './log.ts';
import { applyPurge, parsePurgeState, purgeStateKey } from './purge-state.ts';
import { loadHostMapFor, rememberPurgeState } from './store.ts';

/** Local Cache API deletes per purge call; beyond it the KV record alone invalidates the rest. */
export const LOCAL_DELETE_BUDGET = 256;

/** The answer to a successful purge. */
export interface PurgeAnswer {
  ok: true;
  site: string;
  version: number;
  /** True when the remembered URL/tag purges overflowed and the site's version was bumped instead. */
  escalated: boolean;
  urls: number;
  tags: number;
  localDeletes: number;
}

/** Handles a purge call. @throws EdgeError for every refusal (401, 400, 404, 413). */
export async function handlePurge(req: Request, env: Env, deps: EdgeDeps): Promise<Response> {
  const cfg = configFor(env);
  // The scheme in any case (RFC 9110), the token in constant time; no token configured means
  // nobody may purge.
  const ok = bearerMatches(req.headers.get('authorization') ?? undefined, cfg.purgeToken);
  if (!ok) {
    log('warn', 'refused', { reason: 'purge:unauthorized', ip: req.headers.get('cf-connecting-ip') });
    throw new EdgeError('PURGE_UNAUTHORIZED', 'missing or wrong bearer token');
  }
  const body = await readBody(req);
  const check = validatePurgeRequest(body);
  if (!check.ok) throw new EdgeError('PURGE_BODY_INVALID', check.message, { field: check.field });
  const purge = check.value;

  const now = deps.now();
  // The site's own shard (sharded layout) or the whole document.
  const map = await loadHostMapFor(env.EDGE_KV, 'site', purge.site, cfg.hostMapTtlMs, now);
  const site = map.byId.get(purge.site);
  if (!site)
    throw new EdgeError('PURGE_UNKNOWN_SITE', `no site "${purge.site}" in the host map`, { field: 'site' });
  const hosts = new Set([site.host, ...site.aliases]);
  const urls = (purge.urls ?? []).map((u, i) => {
    const url = new URL(u);
    const host = normaliseRequestHost(url.host);
    if (!host || !hosts.has(host))
      throw new EdgeError('PURGE_FOREIGN_URL', `host "${url.host}" is not a host of site "${site.id}"`, {
        field: `urls[${i}]`,
      });
    return url;
  });
  // A REST resource is cached under the spelling a visitor used; WordPress purges name one.
  for (const url of [...urls]) {
    const other = restApiOtherSpelling(url);
    if (other) urls.push(new URL(other, url));
  }

  const kvKey = purgeStateKey(site.id);
  const prev = parsePurgeState(await env.EDGE_KV.get(kvKey));
  const p = site.policy;
  const maxLifetimeMs = (p.htmlTtl + Math.max(p.staleWhileRevalidate, p.staleIfError)) * 1000;
  const { state, escalated } = applyPurge(
    prev,
    { all: purge.all === true, pages: urls.map(pageKey), tags: purge.tags ?? [] },
    now,
    maxLifetimeMs,
  );
  await env.EDGE_KV.put(kvKey, JSON.stringify(state));
  rememberPurgeState(site.id, state, now);

  let localDeletes = 0;
  if (!purge.all && !escalated && urls.length) {
    const keys = localKeys(site, urls, state.v).slice(0, LOCAL_DELETE_BUDGET);
    const cache = deps.cache();
    const results = await Promise.all(keys.map((k) => cache.delete(k)));
    localDeletes = results.filter(Boolean).length;
  }
  const answer: PurgeAnswer = {
    ok: true,
    site: site.id,
    version: state.v,
    escalated,
    urls: purge.urls?.length ?? 0,
    tags: purge.tags?.length ?? 0,
    localDeletes,
  };
  log('info', 'purged', { ...answer });
  return Response.json(answer, { headers: { 'cache-control': 'no-store' } });
}

/**
 * Every key a URL may be stored under here: both schemes, every device variant, and every host
 * that serves the site (aliases only when they are served rather than redirected). HEAD shares
 * the GET entry, so there is nothing separate to delete for it.
 */
export function localKeys(site: EdgeSite, urls: readonly URL[], version: number): string[] {
  const hosts = site.policy.aliasMode === 'serve' ? [site.host, ...site.aliases] : [site.host];
  const keys: string[] = [];
  for (const url of urls) {
    const page = pageKey(url);
    for (const host of hosts)
      for (const scheme of ['https', 'http'])
        for (const device of deviceVariants(site.policy.deviceVariants))
          keys.push(cacheKeyUrl({ scheme, host, version, device, page }));
  }
  return [...new Set(keys)];
}

async function readBody(req: Request): Promise<unknown> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > PURGE_LIMITS.bodyBytes)
    throw new EdgeError('PURGE_BODY_TOO_LARGE', `body is larger than ${PURGE_LIMITS.bodyBytes} bytes`);
  const reader = req.body?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (reader) {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > PURGE_LIMITS.bodyBytes) {
        await reader.cancel();
        throw new EdgeError('PURGE_BODY_TOO_LARGE', `body is larger than ${PURGE_LIMITS.bodyBytes} bytes`);
      }
      chunks.push(value);
    }
  }
  const text = new TextDecoder().decode(concat(chunks, size));
  try {
    return JSON.parse(text);
  } catch {
    throw new EdgeError('PURGE_BODY_INVALID', 'body is not valid JSON', { field: '' });
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
