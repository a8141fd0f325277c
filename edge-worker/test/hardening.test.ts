/**
 * Faults found from outside (issue 16 items 9–12, issue 15 items 3 and 7), each reproduced in
 * workerd against the real demo origin behind the verifying front: what a cacheable fetch may
 * carry, `Vary` outside the key, a refresh inheriting a visitor's `Range`, purge methods and
 * headers from the internet, reserved paths in other spellings, what the health answer gives
 * away, `?rest_route=` and `?preview=1`, and the visitor's address.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_PURGE_TOKEN } from './fixtures.ts';
import { clearHostMap, originCalls, seedHostMap, send } from './helpers.ts';

beforeAll(() => seedHostMap());

const cacheOf = (r: { headers: Headers }) => [
  r.headers.get('x-edge-cache'),
  r.headers.get('x-edge-cache-reason'),
];

/** Headers a visitor may send that no cacheable fetch may pass on (each reached WordPress once). */
const VISITOR_ONLY = {
  forwarded: 'for=198.51.100.9;host=evil.test;proto=http',
  'x-forwarded-port': '8443',
  'x-forwarded-prefix': '/evil',
  'accept-language': 'xx-EVIL',
  range: 'bytes=0-0',
  'if-none-match': '"abc"',
  'if-modified-since': 'Wed, 21 Oct 2015 07:28:00 GMT',
  'x-anything': 'visitor',
  'x-purge-secret': 'guess',
  'xkey-purge': 'alpha-home',
  'x-ban-host': 'alpha.test',
  'x-farm-rest-cache': '1',
  'user-agent': 'Mozilla/5.0 (iPhone) Mobile visitor-browser',
};

describe('cacheable fetches are built from the key (issue 16 item 9)', () => {
  it('forwarded proxy headers, language, range, conditionals and purge headers never reach the origin', async () => {
    const r = await send('https://alpha.test/allow/?case=allow', {
      headers: { ...VISITOR_ONLY, 'cf-connecting-ip': '203.0.113.7' },
    });
    expect(cacheOf(r)).toEqual(['MISS', 'not-cached']);
    const [seen, ...more] = await originCalls('allow');
    expect(more).toHaveLength(0);
    for (const h of Object.keys(VISITOR_ONLY)) {
      if (h === 'user-agent') continue;
      expect(seen?.headers[h], h).toBeUndefined();
    }
    // The origin renders for the key's device variant, not for this visitor's browser.
    expect(seen?.headers['user-agent']).not.toContain('visitor-browser');
    expect(seen?.headers['x-forwarded-for']).toBe('203.0.113.7');
    expect(seen?.headers['x-forwarded-proto']).toBe('https');
    expect(seen?.headers['x-edge-host']).toBe('alpha.test');
  });

  it('the fetch asks for the key’s page: marketing parameters are not sent to the origin', async () => {
    await send('https://alpha.test/campaign/?utm_source=evil%22%3E&case=mkt&fbclid=x');
    const [seen] = await originCalls('mkt');
    expect(seen?.path).toBe('/campaign/?case=mkt');
  });

  it('a device-variant site fetches with a User-Agent of the variant WordPress agrees with', async () => {
    await send('https://beta.test/ua/?case=ua-m', {
      headers: { 'user-agent': 'Mozilla/5.0 (iPhone) Mobile x' },
    });
    await send('https://beta.test/ua/?case=ua-d', { headers: { 'user-agent': 'Mozilla/5.0 (X11) Firefox' } });
    const [mobile] = await originCalls('ua-m');
    const [desktop] = await originCalls('ua-d');
    expect(mobile?.headers['user-agent']).toMatch(/Mobile/);
    expect(desktop?.headers['user-agent']).not.toMatch(/Mobile|Android/);
  });
});

describe('Vary outside the key (issue 16 item 9)', () => {
  it('a page varying on Accept-Language is not stored, and no visitor gets another’s language', async () => {
    const evil = await send('https://alpha.test/lang/?case=lang', {
      headers: { 'accept-language': 'xx-EVIL' },
    });
    expect(cacheOf(evil)).toEqual(['BYPASS', 'origin:vary:accept-language']);
    expect(evil.body).not.toContain('xx-EVIL');
    const en = await send('https://alpha.test/lang/?case=lang', { headers: { 'accept-language': 'en' } });
    expect(en.headers.get('x-edge-cache')).toBe('BYPASS');
    expect(en.body).not.toContain('xx-EVIL');
    expect(await originCalls('lang')).toHaveLength(2);
  });
});

describe('background refreshes (issue 16 item 10)', () => {
  it('a visitor’s Range does not reach the refresh, so the stale entry survives', async () => {
    const url = 'https://swr.test/range/?case=range';
    const first = await send(url);
    expect(first.headers.get('x-edge-cache')).toBe('MISS');
    const ranged = await send(url, { headers: { range: 'bytes=0-0' } });
    expect(cacheOf(ranged)).toEqual(['STALE', 'revalidating']);
    const calls = await originCalls('range');
    expect(calls).toHaveLength(2); // the fill and the refresh
    expect(calls[1]?.headers.range).toBeUndefined();
    // Before the fix the refresh got a 206, deemed the page uncacheable and deleted it.
    const after = await send(url);
    expect(cacheOf(after)).toEqual(['STALE', 'revalidating']);
  });

  it('a refresh carries no visitor address and no visitor header', async () => {
    const url = 'https://swr.test/refresh-headers/?case=refresh-h';
    await send(url, { headers: { 'cf-connecting-ip': '203.0.113.8' } });
    await send(url, { headers: { ...VISITOR_ONLY, 'cf-connecting-ip': '203.0.113.9' } });
    const [fill, refresh] = await originCalls('refresh-h');
    expect(fill?.headers['x-forwarded-for']).toBe('203.0.113.8');
    expect(refresh?.headers['x-forwarded-for']).toBeUndefined();
    for (const h of Object.keys(VISITOR_ONLY))
      if (h !== 'user-agent') expect(refresh?.headers[h], h).toBeUndefined();
  });
});

describe('purge methods and headers from the internet (issue 16 item 11)', () => {
  it.each(['PURGE', 'BAN', 'PROPFIND', 'MKCOL', 'purge'])(
    '%s is refused with 405 before the origin',
    async (method) => {
      const r = await send(`https://alpha.test/?case=m-${method}`, {
        method,
        headers: { 'x-purge-secret': 'guess', 'xkey-purge': 'alpha-home', 'x-ban-host': 'alpha.test' },
      });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
      expect(r.headers.get('x-edge-block')).toBe('method:not-allowed');
      expect(await originCalls(`m-${method}`)).toHaveLength(0);
    },
  );

  it('purge headers and farm hints are stripped from a request passed to the origin', async () => {
    await send('https://alpha.test/wp-admin/?case=purge-h', {
      headers: {
        cookie: 'wordpress_logged_in_x=1',
        'x-purge-secret': 'guess',
        'xkey-purge': 'alpha-home',
        'xkey-softpurge': 'alpha-home',
        'x-ban-host': 'alpha.test',
        'x-ban-url': '/',
        'x-farm-rest-cache': '1',
        'x-farm-woocommerce': '1',
        'x-farm-purge-secret-expected': 'guess',
      },
    });
    const [seen] = await originCalls('purge-h');
    expect(seen?.headers.cookie).toBe('wordpress_logged_in_x=1');
    const leaked = Object.keys(seen?.headers ?? {}).filter(
      (h) =>
        h.startsWith('x-farm-') || h.startsWith('xkey') || h.startsWith('x-ban') || h === 'x-purge-secret',
    );
    expect(leaked).toEqual([]);
  });
});

describe('reserved paths and the health answer (issue 16 item 12)', () => {
  it.each([
    '/__EDGE/health',
    '//__edge/health',
    '/%5F%5Fedge/anything',
    '/%5f_EDGE/purge',
    '/x/..%2F__edge/purge',
    '/__edge-cache/https/v0/any/',
  ])('%s is the reserved-path 404, never the origin', async (path) => {
    const r = await send(`https://alpha.test${path}`, { headers: { 'x-case': 'reserved' } });
    expect([r.status, r.headers.get('x-edge-cache-reason')]).toEqual([404, 'path:reserved']);
    expect(await originCalls('reserved')).toHaveLength(0);
  });

  it.each(['alpha.test', 'unknown.test', '127.0.0.1'])(
    'on %s it says only whether the worker is ready',
    async (host) => {
      const r = await send(`https://${host}/__edge/health`);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ ok: true });
    },
  );

  it('the purge token holder gets the layout, its shard count and the map’s age; a wrong token does not', async () => {
    const r = await send('https://alpha.test/__edge/health', {
      headers: { authorization: `bearer ${TEST_PURGE_TOKEN}` },
    });
    expect(JSON.parse(r.body)).toEqual({
      ok: true,
      layout: 'sharded',
      shards: 1,
      hostMapGeneratedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const wrong = await send('https://alpha.test/__edge/health', {
      headers: { authorization: 'Bearer wrong-token-wrong-token-wrong-token-00' },
    });
    expect(JSON.parse(wrong.body)).toEqual({ ok: true });
  });

  it('not ready: 503 without the cause', async () => {
    const { resetMemo } = await import('../src/store.ts');
    await clearHostMap();
    resetMemo();
    try {
      const r = await send('https://alpha.test/__edge/health');
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toEqual({ ok: false });
    } finally {
      await seedHostMap();
      resetMemo();
    }
  });

  it('the purge endpoint takes the Bearer scheme in any case', async () => {
    const r = await send('https://alpha.test/__edge/purge', {
      method: 'POST',
      headers: { authorization: `BEARER ${TEST_PURGE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ site: 'purge-b', tags: ['purge-b-none'] }),
    });
    expect(r.status).toBe(200);
  });
});

describe('REST API and previews in every spelling (issue 15 item 3)', () => {
  it.each([
    ['/?rest_route=/wp/v2/posts', 'query:rest_route'],
    ['/index.php?rest_route=%2Fwp%2Fv2%2Fposts', 'query:rest_route'],
    ['/?rest.route=/wp/v2/posts', 'query:rest_route'],
    ['//wp-json/wp/v2/posts', 'path:/wp-json/'],
    ['/?p=7&preview=1', 'query:preview'],
    ['/?p=7&preview', 'query:preview'],
  ])('%s bypasses where the site does not cache REST', async (path, reason) => {
    const id = `rest-${path}`;
    for (let i = 0; i < 2; i++) {
      const r = await send(`https://alpha.test${path}`, { headers: { 'x-case': id } });
      expect(cacheOf(r)).toEqual(['BYPASS', reason]);
    }
    expect(await originCalls(id)).toHaveLength(2);
  });

  it('is cached where the site caches REST, with the tags the site’s purges hit', async () => {
    const url = 'https://gamma.test/?rest_route=/wp/v2/posts&case=rest-cached';
    const first = await send(url);
    expect(cacheOf(first)).toEqual(['MISS', 'not-cached']);
    expect(JSON.parse(first.body)[0].site).toBe('gamma');
    expect((await send(url)).headers.get('x-edge-cache')).toBe('HIT');
    // WordPress answers both spellings from one handler, so the response carries the REST tag.
    const purge = await send('https://gamma.test/__edge/purge', {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_PURGE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ site: 'gamma', tags: ['gamma-rest'] }),
    });
    expect(purge.status).toBe(200);
    expect(cacheOf(await send(url))).toEqual(['MISS', 'purged']);
  });
});

describe('URL purges of the REST API reach both spellings (issue 15 item 3)', () => {
  it('a purge naming /wp-json/… misses the cached ?rest_route=… of the same resource, and back', async () => {
    const asQuery = 'https://gamma.test/?rest_route=/wp/v2/posts/12&case=rest-url';
    const asPath = 'https://gamma.test/wp-json/wp/v2/posts/13?case=rest-url';
    for (const u of [asQuery, asPath]) {
      await send(u);
      expect((await send(u)).headers.get('x-edge-cache')).toBe('HIT');
    }
    const purge = (url: string) =>
      send('https://gamma.test/__edge/purge', {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_PURGE_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ site: 'gamma', urls: [url] }),
      });
    expect((await purge('https://gamma.test/wp-json/wp/v2/posts/12?case=rest-url')).status).toBe(200);
    // Deleted from this colo at once (not-cached) or marked in the purge state (purged).
    expect((await send(asQuery)).headers.get('x-edge-cache')).toBe('MISS');
    expect((await purge('https://gamma.test/?rest_route=/wp/v2/posts/13&case=rest-url')).status).toBe(200);
    expect((await send(asPath)).headers.get('x-edge-cache')).toBe('MISS');
  });
});

describe('the visitor’s address (issue 15 item 7)', () => {
  it('X-Forwarded-For is CF-Connecting-IP, replacing a spoofed one', async () => {
    await send('https://alpha.test/wp-admin/?case=xff', {
      headers: {
        cookie: 'wordpress_logged_in_x=1',
        'cf-connecting-ip': '203.0.113.7',
        'x-forwarded-for': '6.6.6.6, 10.0.0.1',
        'x-real-ip': '6.6.6.6',
        'true-client-ip': '6.6.6.6',
      },
    });
    const [seen] = await originCalls('xff');
    expect(seen?.headers['x-forwarded-for']).toBe('203.0.113.7');
    expect(JSON.stringify(seen?.headers)).not.toContain('6.6.6.6');
  });

  it('without CF-Connecting-IP (or with junk in it) no address is forwarded at all', async () => {
    for (const [id, ip] of [
      ['xff-none', undefined],
      ['xff-junk', '203.0.113.7, 6.6.6.6'],
    ] as const) {
      await send(`https://alpha.test/wp-admin/?case=${id}`, {
        headers: { 'x-forwarded-for': '6.6.6.6', ...(ip ? { 'cf-connecting-ip': ip } : {}) },
      });
      const [seen] = await originCalls(id);
      expect(seen?.headers['x-forwarded-for'], id).toBeUndefined();
    }
  });
});
