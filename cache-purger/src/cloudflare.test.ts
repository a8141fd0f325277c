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
  const shape = (calls: object[]) =>
    calls.map((c) => `${Object.keys(c)[0]}:${(Object.values(c)[0] as string[]).length}`);
  it("URLs per call as configured (the plan's 100, 500 on Enterprise, or a legacy 30); 100 tags or hosts", () => {
    const tags = Array.from({ length: 150 }, (_, i) => `a-${i}`);
    expect(
      shape(cloudflareCalls({ hosts: [], files: urls, tags }, { urlsPerCall: 100, maxOps: 100 })),
    ).toEqual(['tags:100', 'tags:50', 'files:100', 'files:100', 'files:50']);
    expect(cloudflareCalls({ hosts: [], files: urls, tags: [] }, { urlsPerCall: 500, maxOps: 100 })).toEqual([
      { files: urls },
    ]);
    expect(
      shape(
        cloudflareCalls({ hosts: [], files: urls.slice(0, 61), tags: [] }, { urlsPerCall: 30, maxOps: 100 }),
      ),
    ).toEqual(['files:30', 'files:30', 'files:1']);
  });
  it('site-wide purges by host, before tags and URLs (never purge_everything: a zone holds other sites)', () => {
    expect(
      cloudflareCalls(
        { hosts: ['a.test', 'www.a.test'], files: ['https://b.test/x', 'https://b.test/x'], tags: ['b-1'] },
        { urlsPerCall: 100, maxOps: 100 },
      ),
    ).toEqual([{ hosts: ['a.test', 'www.a.test'] }, { tags: ['b-1'] }, { files: ['https://b.test/x'] }]);
  });
});
