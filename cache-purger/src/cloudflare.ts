import type { CloudflareConfig, CloudflarePlan } from './config.ts';

/**
 * Cloudflare's purge API limits, per plan, as documented at
 * https://developers.cloudflare.com/cache/how-to/purge-cache/ (page of 2026-07-29, checked
 * 2026-12): tag/host/prefix/everything calls: a token bucket of `bucket` requests refilled at
 * `perSecond` (free: 5 a minute); single-file (URL) purges: `urlsPerSecond` URLs (moving
 * average); at most 100 operations per call, 500 URLs a call on Enterprise. Older documents and
 * accounts allowed 30 URLs a call: CLOUDFLARE_URLS_PER_CALL lowers `maxUrls` for them. The
 * stand-in (cloudflare-api-standin.ts) enforces the same table.
 */
export const CLOUDFLARE_LIMITS: Readonly<
  Record<
    CloudflarePlan,
    { perSecond: number; bucket: number; urlsPerSecond: number; maxUrls: number; maxOps: number }
  >
> = Object.freeze({
  free: { perSecond: 5 / 60, bucket: 25, urlsPerSecond: 800, maxUrls: 100, maxOps: 100 },
  pro: { perSecond: 5, bucket: 25, urlsPerSecond: 1500, maxUrls: 100, maxOps: 100 },
  business: { perSecond: 10, bucket: 50, urlsPerSecond: 1500, maxUrls: 100, maxOps: 100 },
  enterprise: { perSecond: 50, bucket: 500, urlsPerSecond: 3000, maxUrls: 500, maxOps: 100 },
});

/** A token bucket (pure over an injected clock): `take(n)` returns 0 when granted, else ms to wait. */
export class TokenBucket {
  readonly capacity: number;
  readonly perSecond: number;
  #tokens: number;
  #at: number;
  readonly #now: () => number;
  constructor(capacity: number, perSecond: number, now: () => number = Date.now) {
    this.capacity = capacity;
    this.perSecond = perSecond;
    this.#tokens = capacity;
    this.#now = now;
    this.#at = now();
  }

  take(n = 1): number {
    const now = this.#now();
    this.#tokens = Math.min(this.capacity, this.#tokens + ((now - this.#at) / 1000) * this.perSecond);
    this.#at = now;
    const want = Math.min(n, this.capacity);
    if (this.#tokens >= want) {
      this.#tokens -= want;
      return 0;
    }
    return Math.ceil(((want - this.#tokens) / this.perSecond) * 1000);
  }
}

/** One call body: exactly one of files, tags, hosts. Never `purge_everything`. */
export type CloudflarePurgeBody = { files: string[] } | { tags: string[] } | { hosts: string[] };

/** What one zone purges in a window: whole sites as their hosts, the rest as URLs and tags. */
export interface ZonePurge {
  hosts: string[];
  files: string[];
  tags: string[];
}

/**
 * Splits a zone's purge into calls within the per-call limits (pure): hosts first (a whole site),
 * then tags (one call can cover many pages), then URLs, `urlsPerCall` a call. Duplicates dropped.
 * There is no `purge_everything`: a zone holds many sites, and each purges only its own.
 */
export function cloudflareCalls(
  z: ZonePurge,
  limits: { urlsPerCall: number; maxOps: number },
): CloudflarePurgeBody[] {
  const chunk = <T>(xs: T[], n: number) =>
    Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));
  return [
    ...chunk([...new Set(z.hosts)], limits.maxOps).map((hosts) => ({ hosts })),
    ...chunk([...new Set(z.tags)], limits.maxOps).map((tags) => ({ tags })),
    ...chunk([...new Set(z.files)], limits.urlsPerCall).map((files) => ({ files })),
  ];
}

/** Result of one call: done, or wait this long (429 Retry-After or our own bucket), or failed. */
export type CallResult =
  | { ok: true }
  | { ok: false; retryAfterMs?: number; error: string; permanent?: boolean };

/** Calls Cloudflare's purge endpoint with per-plan buckets in front of it; honours 429. */
export class CloudflareClient {
  readonly #cfg: CloudflareConfig;
  readonly #requests: TokenBucket;
  readonly #urls: TokenBucket;
  readonly #timeoutMs: number;
  constructor(cfg: CloudflareConfig, timeoutMs: number, now: () => number = Date.now) {
    this.#cfg = cfg;
    const l = CLOUDFLARE_LIMITS[cfg.plan];
    this.#requests = new TokenBucket(l.bucket, l.perSecond, now);
    this.#urls = new TokenBucket(l.urlsPerSecond, l.urlsPerSecond, now);
    this.#timeoutMs = timeoutMs;
  }

  get plan(): CloudflarePlan {
    return this.#cfg.plan;
  }

  /** The per-call limits in use: URLs per `files` call (CLOUDFLARE_URLS_PER_CALL), items per other call. */
  get limits(): { urlsPerCall: number; maxOps: number } {
    return { urlsPerCall: this.#cfg.urlsPerCall, maxOps: CLOUDFLARE_LIMITS[this.#cfg.plan].maxOps };
  }

  /** The zone of a site, or undefined when Cloudflare is not configured for it. */
  zone(site: string): string | undefined {
    return this.#cfg.zones[site] ?? this.#cfg.zones['*'];
  }

  async call(zone: string, body: CloudflarePurgeBody): Promise<CallResult> {
    const wait = 'files' in body ? this.#urls.take(body.files.length) : this.#requests.take(1);
    if (wait > 0) return { ok: false, retryAfterMs: wait, error: 'local rate limit' };
    try {
      const res = await fetch(`${this.#cfg.apiUrl}/zones/${zone}/purge_cache`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.#cfg.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
      const text = await res.text();
      if (res.status === 429) {
        const ra = Number(res.headers.get('retry-after'));
        return { ok: false, retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : 1000, error: '429' };
      }
      // 400: Cloudflare refuses the call itself (no retry can fix it); anything else may pass later.
      if (!res.ok)
        return {
          ok: false,
          error: `HTTP ${res.status}: ${text.slice(0, 200)}`,
          permanent: res.status === 400,
        };
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }
}
