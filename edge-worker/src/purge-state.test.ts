import { describe, expect, it } from 'vitest';
import {
  applyPurge,
  emptyPurgeState,
  entryPurged,
  MAX_PURGE_ENTRIES,
  parsePurgeState,
} from './purge-state.ts';

describe('purge state', () => {
  it('a site-wide purge bumps the version and forgets URL and tag records', () => {
    const s = { v: 4, tags: { t: 1 }, urls: { '/': 1 } };
    expect(applyPurge(s, { all: true }, 10, 1000)).toEqual({
      state: { v: 5, tags: {}, urls: {} },
      escalated: false,
    });
  });

  it('records URL and tag purges at their time and prunes records past the longest lifetime', () => {
    const s = { v: 0, tags: { old: 100, keep: 950 }, urls: { '/old/': 100 } };
    const { state } = applyPurge(s, { pages: ['/p/'], tags: ['t1'] }, 1000, 100);
    expect(state).toEqual({ v: 0, tags: { keep: 950, t1: 1000 }, urls: { '/p/': 1000 } });
  });

  it('escalates to a version bump when the records would overflow', () => {
    const pages = Array.from({ length: MAX_PURGE_ENTRIES + 1 }, (_, i) => `/p${i}/`);
    const out = applyPurge(emptyPurgeState(), { pages }, 1000, 10_000);
    expect(out.escalated).toBe(true);
    expect(out.state).toEqual({ v: 1, tags: {}, urls: {} });
  });

  it.each([
    [{ urls: { '/p/': 500 } }, '/p/', [], 400, true],
    [{ urls: { '/p/': 500 } }, '/p/', [], 500, true],
    [{ urls: { '/p/': 500 } }, '/p/', [], 501, false],
    [{ urls: { '/p/': 500 } }, '/q/', [], 400, false],
    [{ tags: { 'a-1': 500 } }, '/q/', ['x', 'a-1'], 400, true],
    [{ tags: { 'a-1': 500 } }, '/q/', ['x'], 400, false],
    [{ tags: { 'a-1': 500 } }, '/q/', ['a-1'], 600, false],
  ] as const)('entryPurged(%j, %s, %j, stored %d) = %s', (rec, page, tags, stored, expected) => {
    const state = { ...emptyPurgeState(), ...rec };
    expect(entryPurged(state, page, tags, stored)).toBe(expected);
  });

  it.each([null, '', 'garbage', '{"v":-1}', '[]'])('parses %j as a usable state', (text) => {
    expect(parsePurgeState(text)).toEqual(emptyPurgeState());
  });
});
