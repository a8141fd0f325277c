import { DEFAULT_POLICY } from '@wpfarm/common/registry/schema';
import { describe, expect, it } from 'vitest';
import type { EdgeSite } from './host-map.ts';
import { localKeys } from './purge.ts';

const site = (policy: Partial<EdgeSite['policy']>): EdgeSite => ({
  id: 's',
  host: 's.test',
  aliases: ['www.s.test'],
  policy: { ...DEFAULT_POLICY, ...policy },
});

describe('localKeys', () => {
  it('covers both schemes on the canonical host when aliases redirect', () => {
    expect(localKeys(site({}), [new URL('https://s.test/p/?utm_source=x')], 2)).toEqual([
      'https://s.test/__edge-cache/https/v2/any/p/',
      'https://s.test/__edge-cache/http/v2/any/p/',
    ]);
  });

  it('covers every served host and device variant', () => {
    const keys = localKeys(
      site({ aliasMode: 'serve', deviceVariants: true }),
      [new URL('https://s.test/p/')],
      0,
    );
    expect(keys).toHaveLength(8);
    expect(keys).toContain('https://www.s.test/__edge-cache/http/v0/mobile/p/');
  });
});
