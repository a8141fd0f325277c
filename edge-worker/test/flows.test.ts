/**
 * Multi-step behaviours in workerd against the real demo origin: poisoning headers, what reaches
 * the origin, stale-if-error, stale-while-revalidate with one refresh, the login rate limit, and
 * the purge endpoint (auth, validation, site-wide, URL and tag purges).
 */
import { env } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_EDGE_KEY, TEST_PURGE_TOKEN } from './fixtures.ts';
import {
  clearHostMap,
  originCalls,
  originControl,
  originSeen,
  seedHostMap,
  send,
  sendConcurrently,
} from './helpers.ts';

beforeAll(() => seedHostMap());

const purge = (body: unknown, token: string | null = TEST_PURGE_TOKEN, extra: Record<string, string> = {}) =>
  send('https://alpha.test/__edge/purge', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...extra,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('what reaches the origin', () => {
  it('a poisoned X-Forwarded-Host reaches neither the origin nor the cache key', async () => {
    const evil = {
      'x-forwarded-host': 'evil.test',
      'x-original-url': '/admin',
      'x-host': 'evil.test',
    };
    const first = await send('https://alpha.test/poison/?case=poison', { headers: evil });
    expect(first.headers.get('x-edge-cache')).toBe('MISS');
    const clean = await send('https://alpha.test/poison/?case=poison');
    expect(clean.headers.get('x-edge-cache')).toBe('HIT');
    expect(clean.body).not.toContain('evil.test');
    const seen = await originCalls('poison');
    expect(seen).toHaveLength(1);
    for (const h of ['x-forwarded-host', 'x-original-url', 'x-host'])
      expect(seen[0]?.headers[h]).toBeUndefined();
  });

  it('sends the current edge key, the visitor host and a fresh traceparent, never the visitor one', async () => {
    const incoming = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await send('https://shop.beta.test/trace/?case=trace', { headers: { traceparent: incoming } });
    const [seen] = await originCalls('trace');
    expect(seen?.headers['x-edge-auth']).toBe(TEST_EDGE_KEY);
    expect(seen?.headers['x-edge-host']).toBe('shop.beta.test');
    expect(seen?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    expect(seen?.headers.traceparent?.slice(3, 35)).not.toBe('0af7651916cd43dd8448eb211c80319c');
  });

  it('strips cookies from cacheable fetches and forwards them on bypass', async () => {
    await send('https://alpha.test/cookies/?case=ck1', { headers: { cookie: 'theme=dark; _ga=1' } });
    await send('https://alpha.test/wp-admin/', {
      headers: { 'x-case': 'ck2', cookie: 'wordpress_logged_in_x=1' },
    });
    expect((await originCalls('ck1'))[0]?.headers.cookie).toBeUndefined();
    expect((await originCalls('ck2'))[0]?.headers.cookie).toBe('wordpress_logged_in_x=1');
  });

  it('a client cannot set the edge headers itself', async () => {
    await send('https://alpha.test/spoof/?case=spoof', { headers: { 'x-edge-host': 'gamma.test' } });
    expect((await originCalls('spoof'))[0]?.headers['x-edge-host']).toBe('alpha.test');
  });
});

describe('stale content', () => {
  it('serves the old body as STALE when the origin answers 500 after expiry', async () => {
    const url = 'https://stale.test/sie/?case=sie';
    const first = await send(url);
    expect(first.headers.get('x-edge-cache')).toBe('MISS');
    await originControl('fail', 'host=stale.test');
    try {
      const second = await send(url);
      expect(second.status).toBe(200);
      expect(second.headers.get('x-edge-cache')).toBe('STALE');
      expect(second.headers.get('x-edge-cache-reason')).toBe('origin:500');
      expect(second.body).toBe(first.body);
    } finally {
      await originControl('fail', 'host=stale.test&on=0');
    }
    const third = await send(url);
    expect(third.headers.get('x-edge-cache')).toBe('EXPIRED');
    expect(await originCalls('sie')).toHaveLength(3);
  });

  it('serves STALE when the origin times out after expiry', async () => {
    const url = 'https://stale.test/timeout/';
    const first = await send(url);
    await originControl('delay', 'host=stale.test&ms=4000');
    try {
      const second = await send(url);
      expect(second.headers.get('x-edge-cache')).toBe('STALE');
      expect(second.headers.get('x-edge-cache-reason')).toBe('origin:timeout');
      expect(second.body).toBe(first.body);
    } finally {
      await originControl('delay', 'host=stale.test&ms=0');
    }
  });

  it('passes a 500 through when there is nothing stale to serve', async () => {
    await originControl('fail', 'host=stale.test');
    try {
      const r = await send('https://stale.test/never-cached/');
      expect(r.status).toBe(500);
      expect(r.headers.get('x-edge-cache-reason')).toBe('origin:500');
    } finally {
      await originControl('fail', 'host=stale.test&on=0');
    }
  });

  it('serves STALE while exactly one background refresh runs per key', async () => {
    const url = 'https://swr.test/swr/?case=swr';
    await send(url);
    const results = await sendConcurrently(
      Array.from({ length: 5 }, () => [url, {}] as [string, RequestInit]),
    );
    for (const r of results) {
      expect(r.headers.get('x-edge-cache')).toBe('STALE');
      expect(r.headers.get('x-edge-cache-reason')).toBe('revalidating');
    }
    // One fill plus one refresh, however many stale hits arrived together.
    expect(await originCalls('swr')).toHaveLength(2);
  });
});

describe('refresh lock', () => {
  it('does not refresh while another isolate holds the colo-wide refresh marker', async () => {
    const { refreshLockKey } = await import('../src/edge.ts');
    const url = 'https://swr.test/locked/?case=lock';
    await send(url);
    const lock = refreshLockKey('https://swr.test/__edge-cache/https/v0/any/locked/?case=lock');
    await caches.default.put(lock, new Response('1', { headers: { 'cache-control': 'max-age=60' } }));
    const stale = await send(url);
    expect(stale.headers.get('x-edge-cache')).toBe('STALE');
    expect(await originCalls('lock')).toHaveLength(1);
    await caches.default.delete(lock);
    await send(url);
    expect(await originCalls('lock')).toHaveLength(2);
    // The marker is gone once the refresh finished.
    expect(await caches.default.match(lock)).toBeUndefined();
  });
});

describe('login rate limit', () => {
  it('trips after the binding limit for one site and IP, and not for another IP', async () => {
    const post = (ip: string) =>
      send('https://alpha.test/wp-login.php', {
        method: 'POST',
        body: 'log=admin&pwd=x',
        headers: { 'cf-connecting-ip': ip, 'content-type': 'application/x-www-form-urlencoded' },
      });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await post('192.0.2.10')).status);
    expect(statuses.slice(0, 5).every((s) => s === 302)).toBe(true);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    const tripped = await post('192.0.2.10');
    expect(tripped.headers.get('x-edge-block')).toBe('ratelimit:login');
    expect((await post('192.0.2.11')).status).toBe(302);
  });
});

describe('purge endpoint', () => {
  it('refuses calls without the token and changes nothing', async () => {
    await send('https://purge-a.test/auth/');
    for (const token of [null, 'wrong-token-wrong-token-wrong-token-00']) {
      const r = await purge({ site: 'purge-a', all: true }, token);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body).error.code).toBe('PURGE_UNAUTHORIZED');
    }
    expect(await env.EDGE_KV.get('purge:purge-a')).toBeNull();
    expect((await send('https://purge-a.test/auth/')).headers.get('x-edge-cache')).toBe('HIT');
  });

  it('rejects invalid bodies naming the field', async () => {
    const cases: [unknown, number, string][] = [
      ['{not json', 400, ''],
      [{ site: 'purge-a' }, 400, ''],
      [{ site: 'purge-a', urls: ['/relative'] }, 400, 'urls[0]'],
      [{ site: 'purge-a', urls: ['https://gamma.test/x/'] }, 400, 'urls[0]'],
      [{ site: 'nope', all: true }, 404, 'site'],
      [{ site: 'purge-a', tags: ['bad tag'] }, 400, 'tags[0]'],
    ];
    for (const [body, status, field] of cases) {
      const r = await purge(body);
      expect({ status: r.status, field: JSON.parse(r.body).error.field ?? '' }).toEqual({ status, field });
    }
    const big = await purge({ site: 'purge-a', tags: ['x'.repeat(300_000)] });
    expect(big.status).toBe(413);
  });

  it('a site-wide purge makes the next request a MISS for that site only', async () => {
    for (const u of ['https://purge-a.test/all/', 'https://purge-b.test/all/']) {
      await send(u);
      expect((await send(u)).headers.get('x-edge-cache')).toBe('HIT');
    }
    const r = await purge({ site: 'purge-a', all: true });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ ok: true, site: 'purge-a', version: 1 });
    expect((await send('https://purge-a.test/all/')).headers.get('x-edge-cache')).toBe('MISS');
    expect((await send('https://purge-b.test/all/')).headers.get('x-edge-cache')).toBe('HIT');
  });

  it('a URL purge removes every variant of that URL and nothing else', async () => {
    const pages = ['https://beta.test/url-a/', 'https://beta.test/url-b/'];
    const mobile = { headers: { 'user-agent': 'Mozilla/5.0 (iPhone) Mobile' } };
    for (const p of pages) {
      await send(p);
      await send(p, mobile);
      await send(`${p}?utm_source=x`);
    }
    const r = await purge({ site: 'beta', urls: ['https://beta.test/url-a/?fbclid=1'] });
    expect(JSON.parse(r.body).localDeletes).toBe(2);
    expect((await send(pages[0]!)).headers.get('x-edge-cache')).toBe('MISS');
    expect((await send(pages[0]!, mobile)).headers.get('x-edge-cache')).toBe('MISS');
    expect((await send(pages[1]!)).headers.get('x-edge-cache')).toBe('HIT');
    expect((await send(pages[0]!, { method: 'HEAD' })).headers.get('x-edge-cache')).toBe('HIT');
  });

  it('a tag purge misses every page that carried the tag, and only those', async () => {
    // The demo origin tags every post with `<site>-a-1` and the home page with `<site>-home`.
    const posts = ['https://purge-b.test/tag-1/', 'https://purge-b.test/tag-2/'];
    const home = 'https://purge-b.test/';
    for (const u of [...posts, home]) await send(u);
    const r = await purge({ site: 'purge-b', tags: ['purge-b-a-1'] });
    expect(r.status).toBe(200);
    for (const u of posts) {
      const after = await send(u);
      expect([after.headers.get('x-edge-cache'), after.headers.get('x-edge-cache-reason')]).toEqual([
        'MISS',
        'purged',
      ]);
    }
    expect((await send(home)).headers.get('x-edge-cache')).toBe('HIT');
    // Refilled after the purge: a hit again.
    expect((await send(posts[0]!)).headers.get('x-edge-cache')).toBe('HIT');
  });

  it('origin requests never carry the purge token', async () => {
    const seen = await originSeen();
    expect(seen.some((s) => JSON.stringify(s.headers).includes(TEST_PURGE_TOKEN))).toBe(false);
  });
});

describe('failures at the door', () => {
  it('without a host map the worker answers 503 and fetches nothing', async () => {
    const { resetMemo } = await import('../src/store.ts');
    await clearHostMap();
    resetMemo();
    try {
      const r = await send('https://alpha.test/no-map/', { headers: { 'x-case': 'no-map' } });
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body).error.code).toBe('HOST_MAP_MISSING');
      expect(await originCalls('no-map')).toHaveLength(0);
    } finally {
      await seedHostMap();
      resetMemo();
    }
    expect((await send('https://alpha.test/no-map/')).status).toBe(200);
  });

  it('a short EDGE_AUTH_KEY is refused with a message naming it', async () => {
    const r = await send('https://alpha.test/bad-config/', {}, { ...env, EDGE_AUTH_KEY: 'short' });
    expect(r.status).toBe(500);
    const error = JSON.parse(r.body).error;
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/EDGE_AUTH_KEY/);
  });
});
