import { parseRegistry } from '@wpfarm/common/registry/load';
import { describe, expect, it } from 'vitest';
import { backoffMs, coalesce, planVarnish } from './plan.ts';

const registry = parseRegistry(`
version: 1
sites:
  - { id: alpha, host: alpha.test, aliases: [www.alpha.test], upstream: "http://a:80", webhookSecretRef: A }
  - { id: beta, host: beta.test, upstream: "http://b:80", webhookSecretRef: B }
`);
const opts = { xkeyBatch: 2, softPurge: false };
const varnish = { maxJobUrls: 3 };
const url = (i: number) => `http://alpha.test/${i}`;

describe('coalesce', () => {
  it.each([
    [
      'merges URL and tag sets per site, dropping duplicates',
      varnish,
      [
        { site: 'alpha', urls: ['http://alpha.test/a'], tags: ['alpha-p-1'] },
        {
          site: 'alpha',
          urls: ['http://alpha.test/a', 'http://alpha.test/b'],
          tags: ['alpha-p-1', 'alpha-home'],
        },
      ],
      [
        {
          site: 'alpha',
          all: false,
          urls: ['http://alpha.test/a', 'http://alpha.test/b'],
          tags: ['alpha-p-1', 'alpha-home'],
        },
      ],
    ],
    [
      'a site-wide purge absorbs the granular ones of that site only (site-change)',
      varnish,
      [
        { site: 'alpha', urls: ['http://alpha.test/a'] },
        { site: 'beta', tags: ['beta-home'] },
        { site: 'alpha', all: true },
      ],
      [
        { site: 'alpha', all: true, reason: 'site-change', urls: [], tags: [] },
        { site: 'beta', all: false, urls: [], tags: ['beta-home'] },
      ],
    ],
    [
      'a backlog of single-URL jobs stays URLs, however many (issue 16: a late queue wiped sites)',
      varnish,
      Array.from({ length: 200 }, (_, i) => ({ site: 'alpha', urls: [url(i)] })),
      [{ site: 'alpha', all: false, urls: Array.from({ length: 200 }, (_, i) => url(i)), tags: [] }],
    ],
    [
      'jobs at the per-job limit stay URLs even when they add up to more',
      varnish,
      [
        { site: 'alpha', urls: [url(1), url(2), url(3)] },
        { site: 'alpha', urls: [url(4), url(5), url(6)], tags: ['alpha-p-2'] },
      ],
      [
        {
          site: 'alpha',
          all: false,
          urls: [url(1), url(2), url(3), url(4), url(5), url(6)],
          tags: ['alpha-p-2'],
        },
      ],
    ],
    [
      'one job over the per-job limit bans the site whole at Varnish (job-urls)',
      varnish,
      [
        { site: 'alpha', urls: [url(1), url(2), url(3), url(4)] },
        { site: 'beta', urls: ['http://beta.test/b'] },
      ],
      [
        { site: 'alpha', all: true, reason: 'job-urls', urls: [], tags: [] },
        { site: 'beta', all: false, urls: ['http://beta.test/b'], tags: [] },
      ],
    ],
    [
      'site-change wins over job-urls as the reason',
      varnish,
      [
        { site: 'alpha', urls: [url(1), url(2), url(3), url(4)] },
        { site: 'alpha', all: true },
      ],
      [{ site: 'alpha', all: true, reason: 'site-change', urls: [], tags: [] }],
    ],
    [
      'the edge (no per-job limit): a big job stays URLs; only all: true is site-wide',
      {},
      [
        { site: 'alpha', urls: [url(1), url(2), url(3), url(4)] },
        { site: 'beta', all: true },
      ],
      [
        { site: 'alpha', all: false, urls: [url(1), url(2), url(3), url(4)], tags: [] },
        { site: 'beta', all: true, reason: 'site-change', urls: [], tags: [] },
      ],
    ],
  ] as const)('%s', (_n, o, reqs, want) => {
    expect(coalesce(reqs as never, o)).toEqual(want);
  });
});

describe('planVarnish', () => {
  it('site-wide: one whole-host ban per host of the site (canonical and aliases)', () => {
    expect(
      planVarnish([{ site: 'alpha', all: true, reason: 'site-change', urls: [], tags: [] }], registry, opts),
    ).toEqual([
      { kind: 'ban', site: 'alpha', host: 'alpha.test' },
      { kind: 'ban', site: 'alpha', host: 'www.alpha.test' },
    ]);
  });
  it('URLs become exact host + path?query bans; tags become xkey purges in batches', () => {
    const ops = planVarnish(
      [
        {
          site: 'alpha',
          all: false,
          urls: ['http://www.alpha.test/x?p=1', 'https://alpha.test/y'],
          tags: ['alpha-1', 'alpha-2', 'alpha-3'],
        },
      ],
      registry,
      { ...opts, softPurge: true },
    );
    expect(ops).toEqual([
      { kind: 'ban', site: 'alpha', host: 'www.alpha.test', url: '/x?p=1' },
      { kind: 'ban', site: 'alpha', host: 'alpha.test', url: '/y' },
      { kind: 'xkey', site: 'alpha', keys: ['alpha-1', 'alpha-2'], soft: true },
      { kind: 'xkey', site: 'alpha', keys: ['alpha-3'], soft: true },
    ]);
  });
  it('http and https of the same path are one ban (Varnish keys by host and path only)', () => {
    const ops = planVarnish(
      [{ site: 'beta', all: false, urls: ['http://beta.test/a', 'https://beta.test/a'], tags: [] }],
      registry,
      opts,
    );
    expect(ops).toEqual([{ kind: 'ban', site: 'beta', host: 'beta.test', url: '/a' }]);
  });
  it('a site no longer in the registry bans nothing', () => {
    expect(
      planVarnish([{ site: 'gone', all: true, reason: 'site-change', urls: [], tags: [] }], registry, opts),
    ).toEqual([]);
  });
});

describe('backoffMs', () => {
  it.each([
    [0, 0, 50],
    [0, 1, 100],
    [3, 0, 400],
    [3, 1, 800],
    [20, 1, 5000],
  ])('attempt %i, random %d → %i ms', (attempt, r, want) => {
    expect(backoffMs(attempt, 100, 5000, () => r)).toBe(want);
  });
});
