import { describe, expect, it } from 'vitest';
import type { CloudflarePurgeBody } from './cloudflare.ts';
import { bucketOf, CloudflareWindow } from './cloudflare-delivery.ts';
import { coalesce } from './plan.ts';

const limits = { urlsPerCall: 30, maxOps: 100 };
const zoneOf = (site: string) =>
  site === 'beta' ? 'zonebeta' : site === 'nozone' ? undefined : 'zonedefault';
const hostsOf = (site: string) => (site === 'gone' ? undefined : [`${site}.test`, `www.${site}.test`]);
const url = (site: string, i: number) => `http://${site}.test/p-${i}/`;

describe('CloudflareWindow: what a held window sends', () => {
  it('a backlog of 200 single-URL and single-tag jobs merges into few full calls, never a whole site', () => {
    const w = new CloudflareWindow();
    for (let i = 0; i < 200; i++)
      w.add(coalesce([{ site: 'alpha', urls: [url('alpha', i)], tags: [`alpha-p-${i}`] }]), zoneOf, hostsOf);
    const calls = w.calls(limits);
    expect(calls.map((c) => Object.keys(c.body)[0])).toEqual([
      'tags',
      'tags',
      ...Array.from({ length: 7 }, () => 'files'),
    ]);
    expect(calls.every((c) => (Object.values(c.body)[0] as string[]).length <= 100)).toBe(true);
    expect(
      calls.filter((c) => 'files' in c.body).every((c) => (c.body as { files: string[] }).files.length <= 30),
    ).toBe(true);
    expect(calls.some((c) => 'hosts' in c.body)).toBe(false);
    expect(w.size).toBe(400);
  });

  it.each([
    [
      'all: true is the site by hosts',
      [{ site: 'alpha', all: true }],
      [{ zone: 'zonedefault', body: { hosts: ['alpha.test', 'www.alpha.test'] } }],
      1,
    ],
    [
      'sites sharing a zone share its calls',
      [
        { site: 'alpha', tags: ['alpha-a'] },
        { site: 'gamma', tags: ['gamma-a'] },
      ],
      [{ zone: 'zonedefault', body: { tags: ['alpha-a', 'gamma-a'] } }],
      0,
    ],
    [
      'a site of another zone has its own',
      [
        { site: 'beta', tags: ['beta-a'] },
        { site: 'gamma', tags: ['gamma-a'] },
      ],
      [
        { zone: 'zonebeta', body: { tags: ['beta-a'] } },
        { zone: 'zonedefault', body: { tags: ['gamma-a'] } },
      ],
      0,
    ],
    [
      'no zone, or gone from the registry: nothing',
      [
        { site: 'nozone', tags: ['nozone-a'] },
        { site: 'gone', all: true },
      ],
      [],
      0,
    ],
    [
      'duplicates once',
      [
        { site: 'alpha', tags: ['alpha-a'] },
        { site: 'alpha', tags: ['alpha-a'], urls: [url('alpha', 1)] },
      ],
      [
        { zone: 'zonedefault', body: { tags: ['alpha-a'] } },
        { zone: 'zonedefault', body: { files: [url('alpha', 1)] } },
      ],
      0,
    ],
  ])('%s', (_, reqs, want, wide) => {
    const w = new CloudflareWindow();
    expect(w.add(coalesce(reqs), zoneOf, hostsOf)).toHaveLength(wide);
    expect(w.calls(limits)).toEqual(want);
  });

  it('an item leaves with its call; a later job naming it again puts it back', () => {
    const w = new CloudflareWindow();
    w.add(
      coalesce([{ site: 'alpha', tags: ['alpha-a', 'alpha-b'], urls: [url('alpha', 1)] }]),
      zoneOf,
      hostsOf,
    );
    const [tags, files] = w.calls(limits);
    w.done(tags!);
    expect(w.calls(limits)).toEqual([files]);
    // alpha-a changed again after its call went out: it must be purged again.
    w.add(coalesce([{ site: 'alpha', tags: ['alpha-a'] }]), zoneOf, hostsOf);
    expect(w.calls(limits)).toEqual([{ zone: 'zonedefault', body: { tags: ['alpha-a'] } }, files]);
    w.done(files!);
    w.done({ zone: 'zonedefault', body: { tags: ['alpha-a'] } });
    expect(w.size).toBe(0);
    expect(w.calls(limits)).toEqual([]);
  });

  it.each<[CloudflarePurgeBody, string]>([
    [{ files: ['u'] }, 'urls'],
    [{ tags: ['t'] }, 'calls'],
    [{ hosts: ['h'] }, 'calls'],
  ])('%j draws on the %s bucket', (body, bucket) => {
    expect(bucketOf(body)).toBe(bucket);
  });
});
