import { describe, expect, it } from 'vitest';
import { siteUpstreams } from './runner.ts';
import { wordpressSiteIds } from './wordpress.ts';

const IDS = ['alpha', 'beta', 'gamma'];
const URLS = { demo: 'http://127.0.0.1:18000', wordpress: 'http://127.0.0.1:18090' };

describe('which sites get the farm WordPress (--origin, --wordpress, --sites)', () => {
  it.each([
    [{}, ['alpha', 'beta', 'gamma']],
    [{ origin: 'demo' }, []],
    [{ wordpress: '1' }, ['alpha']],
    [{ wordpress: '0' }, []],
    [{ sites: 'gamma,alpha' }, ['alpha', 'gamma']],
    [{ sites: 'beta,gamma', wordpress: '1' }, ['beta']],
  ])('%j → %j', (flags, expected) => {
    expect(wordpressSiteIds(IDS, flags)).toEqual(expected);
  });

  it.each([
    [{ origin: 'apache' }, /--origin must be "wordpress" or "demo"/],
    [{ wordpress: 'two' }, /--wordpress must be a whole number/],
    [{ sites: 'alpha,delta' }, /--sites names unknown site\(s\): delta/],
  ])('%j is refused with a message naming the flag', (flags, message) => {
    expect(() => wordpressSiteIds(IDS, flags)).toThrow(message);
  });
});

describe('each site upstream in the farm registry', () => {
  it('is the farm WordPress by default when WordPress runs', () => {
    expect([...siteUpstreams(IDS, {}, URLS, true).values()]).toEqual([
      URLS.wordpress,
      URLS.wordpress,
      URLS.wordpress,
    ]);
  });

  it('is the demo origin when WordPress does not take part (--only without galera or wordpress)', () => {
    expect([...siteUpstreams(IDS, {}, URLS, false).values()]).toEqual([URLS.demo, URLS.demo, URLS.demo]);
  });

  // Regression (issue 15 item 4): the runner overwrote every upstream, so the farm could not front
  // a WordPress the user already runs.
  it('keeps the source registry upstream of the sites --keep-upstream names', () => {
    const m = siteUpstreams(IDS, { 'keep-upstream': 'beta', wordpress: '1' }, URLS, true);
    expect(Object.fromEntries(m)).toEqual({ alpha: URLS.wordpress, beta: 'own', gamma: URLS.demo });
    expect([...siteUpstreams(IDS, { 'keep-upstream': 'all' }, URLS, true).values()]).toEqual([
      'own',
      'own',
      'own',
    ]);
  });

  it('refuses an unknown site in --keep-upstream', () => {
    expect(() => siteUpstreams(IDS, { 'keep-upstream': 'omega' }, URLS, true)).toThrow(
      /--keep-upstream names unknown site\(s\): omega/,
    );
  });
});
