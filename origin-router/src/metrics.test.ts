import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

/** The value of the one line of `text` that starts with `prefix`. */
function value(text: string, prefix: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('router metrics', () => {
  it('renders the upstream histogram cumulatively, by target and cache, with the role label', async () => {
    const m = createMetrics('front');
    m.upstream('varnish-1', 'HIT', 0.003);
    m.upstream('varnish-1', 'HIT', 0.004);
    m.upstream('varnish-1', 'HIT', 0.0005); // on a bound: counted in that bucket (le)
    m.upstream('varnish-2', 'MISS', 0.2);
    m.upstream('varnish-1', 'STALE-ish', 20); // unknown cache value, past the last bound
    const text = await m.registry.metrics();
    const h = 'router_upstream_duration_seconds';
    expect(text).toContain(`# TYPE ${h} histogram`);
    const hit = 'target="varnish-1",cache="HIT",role="front"';
    expect(value(text, `${h}_bucket{le="0.0005",${hit}}`)).toBe(1);
    expect(value(text, `${h}_bucket{le="0.0025",${hit}}`)).toBe(1);
    expect(value(text, `${h}_bucket{le="0.005",${hit}}`)).toBe(3);
    expect(value(text, `${h}_bucket{le="+Inf",${hit}}`)).toBe(3);
    expect(value(text, `${h}_count{${hit}}`)).toBe(3);
    expect(value(text, `${h}_sum{${hit}}`)).toBeCloseTo(0.0075, 9);
    expect(value(text, `${h}_bucket{le="0.25",target="varnish-2",cache="MISS",role="front"}`)).toBe(1);
    expect(value(text, `${h}_bucket{le="0.1",target="varnish-2",cache="MISS",role="front"}`)).toBe(0);
    const other = 'target="varnish-1",cache="other",role="front"';
    expect(value(text, `${h}_bucket{le="10",${other}}`)).toBe(0);
    expect(value(text, `${h}_bucket{le="+Inf",${other}}`)).toBe(1);
    // Only the series that were observed are exported.
    expect(text).not.toContain('cache="SYNTH"');
    expect(text).not.toContain('target="varnish-2",cache="HIT"');
  });

  it('counts requests by site class and status, adding up across scrapes', async () => {
    const m = createMetrics('back');
    m.request('standard', 200);
    m.request('standard', 200);
    m.request('woocommerce', 503);
    let text = await m.registry.metrics();
    expect(value(text, 'router_requests_total{site_class="standard",status="200",role="back"}')).toBe(2);
    expect(value(text, 'router_requests_total{site_class="woocommerce",status="503",role="back"}')).toBe(1);
    m.request('standard', 200);
    text = await m.registry.metrics();
    expect(value(text, 'router_requests_total{site_class="standard",status="200",role="back"}')).toBe(3);
    expect(value(text, 'router_requests_total{site_class="woocommerce",status="503",role="back"}')).toBe(1);
  });

  it('resets the histogram with the registry', async () => {
    const m = createMetrics('front');
    m.upstream('varnish-1', 'HIT', 0.001);
    m.registry.resetMetrics();
    const text = await m.registry.metrics();
    expect(
      value(text, 'router_upstream_duration_seconds_count{target="varnish-1",cache="HIT",role="front"}'),
    ).toBe(0);
  });
});
