import { describe, expect, it } from 'vitest';
import { loadConfig, parseNodes } from './config.ts';

const key = 'k'.repeat(32);
const base = {
  ROUTER_ROLE: 'front',
  REGISTRY_FILE: 'sites.yaml',
  VARNISH_NODES: 'v1=127.0.0.1:6081',
  EDGE_AUTH_KEYS: key,
};

describe('config', () => {
  it('fills defaults', () => {
    const c = loadConfig(base);
    expect(c.port).toBe(8080);
    expect(c.limits.maxHeaderBytes).toBe(16_384);
    expect(c.front.nodes).toEqual([{ id: 'v1', host: '127.0.0.1', port: 6081, weight: 1 }]);
    expect(c.front.boundedLoadFactor).toBe(0);
  });

  it.each([
    [{ ROUTER_ROLE: 'middle' }, /ROUTER_ROLE/],
    [{ REGISTRY_FILE: '' }, /REGISTRY_FILE is required/],
    [{ VARNISH_NODES: '' }, /VARNISH_NODES is required/],
    [{ VARNISH_NODES: 'v1=host' }, /VARNISH_NODES: "v1=host"/],
    [{ EDGE_AUTH_KEYS: 'short' }, /EDGE_AUTH_KEYS: key #1 is shorter/],
    [{ PORT: 'abc' }, /PORT must be a whole number between 0 and 65535 \(got "abc"\)/],
    [{ ACCESS_LOG: 'maybe' }, /ACCESS_LOG/],
    [{ TRUSTED_HOPS: '10.0.0.0/99' }, /TRUSTED_HOPS/],
  ])('refuses %j naming the variable', (over, msg) => {
    expect(() => loadConfig({ ...base, ...over })).toThrow(msg);
  });

  it('does not require front settings in the back role', () => {
    expect(loadConfig({ ROUTER_ROLE: 'back', REGISTRY_FILE: 'x.yaml' }).front.nodes).toEqual([]);
  });

  it('parses weights and refuses duplicate ids', () => {
    expect(parseNodes('a=h:1*2,b=[::1]:2')).toEqual([
      { id: 'a', host: 'h', port: 1, weight: 2 },
      { id: 'b', host: '::1', port: 2, weight: 1 },
    ]);
    expect(() => parseNodes('a=h:1,a=h:2')).toThrow(/appears twice/);
  });
});
