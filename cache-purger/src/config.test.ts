import { describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from './config.ts';

const base = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  REGISTRY_FILE: '/x/sites.yaml',
  VARNISH_NODES: 'varnish-1=http://127.0.0.1:6081,varnish-2=http://10.0.0.2:6081',
  VARNISH_PURGE_SECRET: 's',
};
const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    return (err as ConfigError).problems;
  }
};

describe('loadConfig', () => {
  it('fills the documented defaults', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({
      port: 8070,
      coalesceMs: 50,
      maxJobUrls: 50,
      connections: {
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
        keepAliveTimeoutMs: 5_000,
        maxConnections: 10_000,
      },
      softPurge: false,
      edge: undefined,
      cloudflare: undefined,
    });
    expect(c.nodes).toEqual([
      { name: 'varnish-1', url: 'http://127.0.0.1:6081' },
      { name: 'varnish-2', url: 'http://10.0.0.2:6081' },
    ]);
  });
  it.each([
    [{ REDIS_URL: '' }, 'REDIS_URL is required'],
    [{ REDIS_URL: 'http://x' }, 'REDIS_URL must start'],
    [{ VARNISH_NODES: 'varnish-1' }, 'VARNISH_NODES entry "varnish-1"'],
    [{ VARNISH_NODES: 'a=ftp://x' }, 'is not an http:// URL'],
    [{ PURGE_COALESCE_MS: 'soon' }, 'PURGE_COALESCE_MS must be a whole number'],
    [{ PURGE_SOFT: 'maybe' }, 'PURGE_SOFT must be true or false'],
    [{ EDGE_URL: 'http://edge' }, 'EDGE_PURGE_TOKEN is required'],
    [{ CLOUDFLARE_API_TOKEN: 't', CLOUDFLARE_ZONES: 'alpha' }, 'CLOUDFLARE_ZONES entry "alpha"'],
    [
      { CLOUDFLARE_API_TOKEN: 't', CLOUDFLARE_ZONES: '*=z', CLOUDFLARE_PLAN: 'gold' },
      'CLOUDFLARE_PLAN must be',
    ],
    [{ VARNISH_ADMIN: 'varnish-9=127.0.0.1:6082' }, 'VARNISH_ADMIN entry'],
    [{ VARNISH_ADMIN: 'varnish-1=127.0.0.1:6082' }, 'VARNISH_ADMIN_SECRET_FILE is required'],
    [{ PURGE_CLAIM_IDLE_MS: '1000', PURGE_REQUEST_TIMEOUT_MS: '2000' }, 'PURGE_CLAIM_IDLE_MS must be larger'],
    [{ PURGER_HEADERS_TIMEOUT_MS: '5' }, 'PURGER_HEADERS_TIMEOUT_MS'],
    [{ PURGER_MAX_CONNECTIONS: 'many' }, 'PURGER_MAX_CONNECTIONS'],
    [
      { CLOUDFLARE_API_TOKEN: 't', CLOUDFLARE_ZONES: '*=z', CLOUDFLARE_URLS_PER_CALL: '101' },
      'CLOUDFLARE_URLS_PER_CALL',
    ],
  ])('%j → names the variable', (env, want) => {
    expect(problems({ ...base, ...env }).join('\n')).toContain(want);
  });
  it('parses edge, Cloudflare and per-node admin settings', () => {
    const c = loadConfig({
      ...base,
      EDGE_URL: 'http://127.0.0.1:8787/',
      EDGE_PURGE_TOKEN: 'tok',
      CLOUDFLARE_API_TOKEN: 'cf',
      CLOUDFLARE_ZONES: 'alpha=abc123,*=def456',
      CLOUDFLARE_PLAN: 'enterprise',
      VARNISH_ADMIN: 'varnish-1=127.0.0.1:6082@/run/secrets/v1',
    });
    expect(c.edge).toEqual({ url: 'http://127.0.0.1:8787', token: 'tok' });
    expect(c.cloudflare).toMatchObject({
      plan: 'enterprise',
      zones: { alpha: 'abc123', '*': 'def456' },
      urlsPerCall: 500,
    });
    const legacy = loadConfig({
      ...base,
      CLOUDFLARE_API_TOKEN: 'cf',
      CLOUDFLARE_ZONES: '*=z',
      CLOUDFLARE_URLS_PER_CALL: '30',
    });
    expect(legacy.cloudflare?.urlsPerCall).toBe(30);
    expect(c.nodes[0]!.admin).toEqual({ host: '127.0.0.1', port: 6082, secretFile: '/run/secrets/v1' });
  });
});
