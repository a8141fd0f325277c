import { describe, expect, it } from 'vitest';
import { readMeta, responseTags, toClient, toStored } from './stored.ts';

describe('stored entries', () => {
  const origin = () =>
    new Response('<html>page</html>', {
      headers: {
        'cache-control': 'max-age=60, public',
        'cache-tag': 'a-1,a-home',
        'content-type': 'text/html',
      },
    });

  it('round-trips metadata and gives the browser the origin Cache-Control back', async () => {
    const stored = toStored(origin(), { ttl: 300, swr: 30, sie: 3600 }, ['a-1', 'a-home'], 1_000_000);
    expect(stored.headers.get('cache-control')).toBe('public, max-age=3900');
    expect(stored.headers.get('cache-tag')).toBe('a-1,a-home');
    expect(readMeta(stored)).toEqual({
      stored: 1_000_000,
      ttl: 300,
      swr: 30,
      sie: 3600,
      tags: ['a-1', 'a-home'],
    });
    const client = toClient(stored, 'HIT', 'fresh', { head: false, now: 1_042_500 });
    expect(client.headers.get('cache-control')).toBe('max-age=60, public');
    expect(client.headers.get('age')).toBe('42');
    expect(client.headers.get('cache-tag')).toBeNull();
    expect(
      [...client.headers.keys()].filter((k) => k.startsWith('x-edge-') && !k.startsWith('x-edge-cache')),
    ).toEqual([]);
    expect(await client.text()).toBe('<html>page</html>');
  });

  it('removes Cache-Control for the browser when the origin sent none', () => {
    const stored = toStored(new Response('x'), { ttl: 10, swr: 0, sie: 0 }, [], 5);
    expect(toClient(stored, 'HIT', 'fresh', { head: true, now: 5 }).headers.get('cache-control')).toBeNull();
  });

  it('never keeps edge metadata the origin sent', () => {
    const res = new Response('x', { headers: { 'x-edge-tags': 'forged', 'x-edge-origin-cc': 'forged' } });
    const stored = toStored(res, { ttl: 10, swr: 0, sie: 0 }, [], 5);
    expect(readMeta(stored)?.tags).toEqual([]);
    expect(stored.headers.get('x-edge-origin-cc')).toBe('-');
  });

  it('ignores entries it did not write', () => {
    expect(readMeta(new Response('x'))).toBeUndefined();
  });

  it.each([
    [{ 'cache-tag': 'a, b,,c' }, ['a', 'b', 'c']],
    [{ xkey: 'a b  c' }, ['a', 'b', 'c']],
    [{ 'cache-tag': 'a', xkey: 'b' }, ['a']],
    [{}, []],
  ])('reads tags from %j', (headers, tags) => {
    expect(responseTags(new Headers(headers))).toEqual(tags);
  });
});
