/**
 * The purge contract shared by the WordPress mu-plugin (webhook), the cache-purger (intake and
 * edge call) and the edge worker (`POST /__edge/purge`). Pure; validates untrusted JSON.
 */

/** A purge for one site: URLs, tags, or everything. Never a regex. */
export interface PurgeRequest {
  site: string;
  urls?: string[];
  tags?: string[];
  all?: boolean;
  /**
   * The id of the WordPress change this purge is for, the same on every retry of that change
   * (each retry is signed afresh, with a new nonce). The purger accepts each (site, event) once
   * within 24 h and answers a repeat with the first job's id, so a webhook that timed out but was
   * in fact accepted is never queued twice.
   */
  event?: string;
}

export const PURGE_LIMITS = Object.freeze({
  /** Bytes of one webhook body. */
  bodyBytes: 256 * 1024,
  urls: 2_000,
  tags: 500,
  urlLength: 2_048,
  tagLength: 128,
});

/** Tag syntax: what fits in an `xkey`/`Cache-Tag` header token. */
export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Event id syntax: 8 to 64 URL-safe characters (a UUID, a hash, a random token). */
export const EVENT_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * The path of the edge worker's purge endpoint, called by the cache-purger with
 * `authorization: Bearer <EDGE_PURGE_TOKEN>` and a `PurgeRequest` body.
 */
export const EDGE_PURGE_PATH = '/__edge/purge';

export type PurgeCheck = { ok: true; value: PurgeRequest } | { ok: false; field: string; message: string };

const fail = (field: string, message: string): PurgeCheck => ({ ok: false, field, message });

/**
 * Validates an untrusted purge body. URLs must be absolute http(s) URLs without fragments;
 * anything that looks like a pattern is refused rather than interpreted.
 */
export function validatePurgeRequest(body: unknown): PurgeCheck {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return fail('', 'body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!['site', 'urls', 'tags', 'all', 'event'].includes(key))
      return fail(key, 'unknown field (expected site, urls, tags, all, event)');
  }
  if (typeof b.site !== 'string' || !/^[a-z][a-z0-9-]{0,62}$/.test(b.site))
    return fail('site', 'must be a site id');
  const out: PurgeRequest = { site: b.site };
  if (b.all !== undefined) {
    if (typeof b.all !== 'boolean') return fail('all', 'must be true or false');
    if (b.all) out.all = true;
  }
  if (b.event !== undefined) {
    if (typeof b.event !== 'string' || !EVENT_PATTERN.test(b.event))
      return fail('event', 'must be 8 to 64 letters, digits, _ or - (the id of the WordPress change)');
    out.event = b.event;
  }
  if (b.urls !== undefined) {
    if (!Array.isArray(b.urls)) return fail('urls', 'must be a list of absolute URLs');
    if (b.urls.length > PURGE_LIMITS.urls)
      return fail('urls', `has ${b.urls.length} entries (limit ${PURGE_LIMITS.urls})`);
    const urls: string[] = [];
    for (const [i, u] of b.urls.entries()) {
      const why = urlProblem(u);
      if (why) return fail(`urls[${i}]`, why);
      urls.push(canonicalPurgeUrl(u as string));
    }
    if (urls.length) out.urls = [...new Set(urls)];
  }
  if (b.tags !== undefined) {
    if (!Array.isArray(b.tags)) return fail('tags', 'must be a list of tags');
    if (b.tags.length > PURGE_LIMITS.tags)
      return fail('tags', `has ${b.tags.length} entries (limit ${PURGE_LIMITS.tags})`);
    for (const [i, t] of b.tags.entries()) {
      if (typeof t !== 'string' || !TAG_PATTERN.test(t))
        return fail(`tags[${i}]`, 'must be a tag of letters, digits, _ . : - (at most 128)');
    }
    if (b.tags.length) out.tags = [...new Set(b.tags as string[])];
  }
  if (!out.all && !out.urls && !out.tags) return fail('', 'nothing to purge: give urls, tags or all: true');
  return { ok: true, value: out };
}

function urlProblem(u: unknown): string | undefined {
  if (typeof u !== 'string') return 'must be a string';
  if (u.length > PURGE_LIMITS.urlLength) return `is longer than ${PURGE_LIMITS.urlLength} characters`;
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be http or https';
  if (/[*^$()[\]{}|\\]/.test(decodeURIComponentSafe(url.pathname)))
    return 'must be a literal URL, not a pattern';
  return undefined;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The form every tier keys URLs by: lower-case host, no port for defaults, no fragment. */
export function canonicalPurgeUrl(u: string): string {
  const url = new URL(u);
  url.hash = '';
  return url.toString();
}

/** `host` and `path?query` of a purge URL, the two values stored on Varnish objects as x-host / x-url. */
export function purgeUrlParts(u: string): { host: string; url: string } {
  const url = new URL(u);
  return { host: url.hostname, url: url.pathname + url.search };
}
