import { describe, expect, it } from 'vitest';
import { cloudflareCalls, TokenBucket } from './cloudflare.ts';

describe('TokenBucket', () => {
  it('grants up to capacity, then asks to wait for the refill', () => {
    let now = 0;
    const b = new TokenBucket(2, 5, () => now);
    expect(b.take()).toBe(0);
    expect(b.take()).toBe(0);
    expect(b.take()).toBe(200); // 1 token at 5/s
    now = 200;
    expect(b.take()).toBe(0);
    now = 10_000;
    expect([b.take(), b.take(), b.take()]).toEqual([0, 0, 200]); // never above capacity
  });
  it('free plan: 5 calls a minute means 12 s per token', () => {
    const b = new TokenBucket(1, 5 / 60, () => 0);
    b.take();
    expect(b.take()).toBe(12_000);
  });
});

describe('cloudflareCalls', () => {
  const urls = Array.from({ length: 250 }, (_, i) => `https://a.test/${i}`);
  it('at most 100 files, tags or hosts a call; 500 files on Enterprise', () => {
    const calls = cloudflareCalls(
      { all: false, urls, tags: Array.from({ length: 150 }, (_, i) => `a-${i}`), hosts: [] },
      'pro',
    );
    expect(calls.map((c) => Object.keys(c)[0] + ':' + (Object.values(c)[0] as string[]).length)).toEqual([
      'files:100',
      'files:100',
      'files:50',
      'tags:100',
      'tags:50',
    ]);
    expect(cloudflareCalls({ all: false, urls, tags: [], hosts: [] }, 'enterprise')).toEqual([
      { files: urls },
    ]);
  });
  it('site-wide purges by host (never purge_everything: a zone may hold other sites)', () => {
    expect(
      cloudflareCalls({ all: true, urls: [], tags: [], hosts: ['a.test', 'www.a.test'] }, 'free'),
    ).toEqual([{ hosts: ['a.test', 'www.a.test'] }]);
  });
});
