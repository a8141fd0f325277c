import type { CloudflareConfig, CloudflarePlan } from './config.ts';

/**
 * Cloudflare's purge API limits, per plan, as documented at
 * https://developers.cloudflare.com/cache/how-to/purge-cache/ (checked 2026-11):
 * tag/host/prefix/everything calls: token bucket of `bucket` requests refilled at `perSecond`;
 * single-file (URL) purges: `urlsPerSecond` URLs; at most 100 operations per call (500 URLs on
 * Enterprise). The stand-in (cloudflare-api-standin.ts) enforces the same table.
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

/** One call body: exactly one of files, tags, hosts. */
export type CloudflarePurgeBody = { files: string[] } | { tags: string[] } | { hosts: string[] };

/** Splits a site purge into calls within the per-call limits (pure). */
export function cloudflareCalls(
  p: { all: boolean; urls: string[]; tags: string[]; hosts: string[] },
  plan: CloudflarePlan,
): CloudflarePurgeBody[] {
  const { maxUrls, maxOps } = CLOUDFLARE_LIMITS[plan];
  const chunk = <T>(xs: T[], n: number) =>
    Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));
  if (p.all) return chunk(p.hosts, maxOps).map((hosts) => ({ hosts }));
  return [
    ...chunk(p.urls, maxUrls).map((files) => ({ files })),
    ...chunk(p.tags, maxOps).map((tags) => ({ tags })),
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
