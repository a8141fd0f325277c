import { validatePurgeRequest } from '@wpfarm/common/contracts/purge';
import { expect, it } from 'vitest';
import { edgeBodies } from './edge-delivery.ts';

it('one request per site, split at the contract limits, each valid for the edge', () => {
  const tags = Array.from({ length: 1_200 }, (_, i) => `alpha-p-${i}`);
  const bodies = edgeBodies([
    { site: 'alpha', all: false, urls: ['http://alpha.test/a'], tags },
    { site: 'beta', all: true, urls: [], tags: [] },
  ]);
  expect(bodies.map((b) => [b.site, b.urls?.length ?? 0, b.tags?.length ?? 0, !!b.all])).toEqual([
    ['alpha', 1, 0, false],
    ['alpha', 0, 500, false],
    ['alpha', 0, 500, false],
    ['alpha', 0, 200, false],
    ['beta', 0, 0, true],
  ]);
  for (const b of bodies) expect(validatePurgeRequest(b).ok).toBe(true);
  expect(new Set(bodies.flatMap((b) => b.tags ?? []))).toEqual(new Set(tags));
});
