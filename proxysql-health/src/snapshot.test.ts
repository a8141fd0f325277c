import { describe, expect, it } from 'vitest';
import { answer, render } from './snapshot.ts';

const healthy = { health: 'healthy', writer: true, reader: true, reasons: [] } as const;
const readOnly = { health: 'healthy', writer: false, reader: true, reasons: ['read_only'] } as const;

describe('answer', () => {
  it('is 503 until the first evaluation (a checker must not start at 200)', () => {
    const a = answer(undefined, 'health', 1000, 3000);
    expect(a.status).toBe(503);
    expect(JSON.parse(a.body)).toMatchObject({ ok: false, verdict: 'starting' });
  });

  it('serves the verdict with its age', () => {
    const a = answer(render({ ...healthy, reasons: [] }, 1000), 'health', 1250, 3000);
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toEqual({
      endpoint: 'health',
      ok: true,
      verdict: 'healthy',
      reasons: [],
      age_ms: 250,
    });
  });

  it('is 503 once the snapshot is older than the stale limit, even if it was healthy', () => {
    const r = render({ ...healthy, reasons: [] }, 1000);
    expect(answer(r, 'health', 4000, 3000).status).toBe(200);
    const a = answer(r, 'health', 4001, 3000);
    expect(a.status).toBe(503);
    expect(JSON.parse(a.body).reasons).toEqual(['snapshot_stale']);
  });

  it.each([
    ['health', 200],
    ['writer', 503],
    ['reader', 200],
  ] as const)('read_only: /%s answers %i', (e, status) => {
    expect(answer(render({ ...readOnly, reasons: ['read_only'] }, 0), e, 0, 10).status).toBe(status);
  });

  it.each(['drained', 'unhealthy'] as const)('%s answers 503 everywhere', (health) => {
    const r = render({ health, writer: false, reader: false, reasons: ['x'] }, 0);
    for (const e of ['health', 'writer', 'reader'] as const) expect(answer(r, e, 0, 10).status).toBe(503);
  });

  it('degraded still takes traffic and says why', () => {
    const r = render(
      { health: 'degraded', writer: true, reader: true, reasons: ['cluster_size_below_expected'] },
      0,
    );
    const a = answer(r, 'health', 0, 10);
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body).reasons).toEqual(['cluster_size_below_expected']);
  });
});
