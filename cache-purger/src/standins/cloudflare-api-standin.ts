import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearerMatches } from '@wpfarm/common/bearer';
import { CLOUDFLARE_LIMITS, TokenBucket } from '../cloudflare.ts';
import type { CloudflarePlan } from '../config.ts';

/**
 * cloudflare-api-standin: a STAND-IN for Cloudflare's purge API (no Cloudflare account exists
 * here). It implements only `POST /client/v4/zones/:zone/purge_cache` and enforces the documented
 * limits (https://developers.cloudflare.com/cache/how-to/purge-cache/): exactly one of files /
 * tags / hosts / prefixes / purge_everything; at most 100 operations a call (500 files on
 * Enterprise); a token bucket per plan for calls and one for URLs; 429 with Retry-After when empty.
 * It records accepted calls at `GET /__standin/calls`. Limits can be scaled down for tests.
 */
export interface CloudflareStandinOptions {
  token: string;
  plan?: CloudflarePlan;
  /** Override the plan's call bucket (tests): capacity and refill per second. */
  bucket?: { capacity: number; perSecond: number };
  /** Override the plan's URLs per call (tests: an account on the older limit of 30). */
  urlsPerCall?: number;
  port?: number;
}

export interface RecordedCall {
  zone: string;
  kind: 'files' | 'tags' | 'hosts' | 'prefixes' | 'purge_everything';
  items: string[];
}

export interface CloudflareStandin {
  port: number;
  url: string;
  calls: RecordedCall[];
  rejected: { status: number; reason: string }[];
  close(): Promise<void>;
}

const cfError = (code: number, message: string) =>
  JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null });

/** Starts the stand-in on 127.0.0.1. */
export async function startCloudflareStandin(opts: CloudflareStandinOptions): Promise<CloudflareStandin> {
  const plan = opts.plan ?? 'free';
  const limits = CLOUDFLARE_LIMITS[plan];
  const calls = new TokenBucket(
    opts.bucket?.capacity ?? limits.bucket,
    opts.bucket?.perSecond ?? limits.perSecond,
  );
  const urls = new TokenBucket(limits.urlsPerSecond, limits.urlsPerSecond);
  const recorded: RecordedCall[] = [];
  const rejected: { status: number; reason: string }[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > 1024 * 1024) break;
      chunks.push(c as Buffer);
    }
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      if (status !== 200) rejected.push({ status, reason: body });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    if (req.method === 'GET' && req.url === '/__standin/calls') return send(200, JSON.stringify(recorded));
    const m = /^\/client\/v4\/zones\/([A-Za-z0-9]{1,64})\/purge_cache$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) return send(404, cfError(7003, 'Could not route to the requested path'));
    if (!bearerMatches(req.headers.authorization, opts.token))
      return send(403, cfError(10000, 'Authentication error'));
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(400, cfError(1012, 'Request must contain valid JSON'));
    }
    const kinds = (['files', 'tags', 'hosts', 'prefixes', 'purge_everything'] as const).filter(
      (k) => body[k] !== undefined,
    );
    if (kinds.length !== 1) return send(400, cfError(1012, 'Request must contain exactly one purge type'));
    const kind = kinds[0]!;
    const items = kind === 'purge_everything' ? [] : (body[kind] as unknown[]);
    if (
      kind !== 'purge_everything' &&
      (!Array.isArray(items) || items.some((i) => typeof i !== 'string') || items.length === 0)
    )
      return send(400, cfError(1012, `${kind} must be a non-empty list of strings`));
    const max = kind === 'files' ? (opts.urlsPerCall ?? limits.maxUrls) : limits.maxOps;
    if (items.length > max) return send(400, cfError(1015, `More than ${max} ${kind} in one request`));
    const wait = kind === 'files' ? urls.take(items.length) : calls.take(1);
    if (wait > 0)
      return send(429, cfError(971, 'Please wait and consider throttling your request speed'), {
        'retry-after': String(Math.max(1, Math.ceil(wait / 1000))),
      });
    recorded.push({ zone: m[1]!, kind, items: items as string[] });
    return send(200, JSON.stringify({ success: true, errors: [], messages: [], result: { id: m[1] } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/client/v4`,
    calls: recorded,
    rejected,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
