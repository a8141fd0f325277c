import { expect, it } from 'vitest';
import { nextNodeState } from './node-watch.ts';

it.each([
  ['first sight: no cutoff', {}, 'M:1 W:2', 1000, { id: 'M:1 W:2', seenAt: 1000, cutoff: 0 }],
  [
    'same identity: keeps the cutoff',
    { id: 'M:1 W:2', seenAt: 1000, cutoff: 5 },
    'M:1 W:2',
    2000,
    { id: 'M:1 W:2', seenAt: 2000, cutoff: 5 },
  ],
  [
    'restarted: cutoff = last time the old identity was seen',
    { id: 'M:1 W:2', seenAt: 2000, cutoff: 0 },
    'M:1 W:9',
    9000,
    { id: 'M:1 W:9', seenAt: 9000, cutoff: 2000 },
  ],
])('%s', (_n, prev, identity, now, want) => {
  expect(nextNodeState(prev, identity, now)).toEqual(want);
});
