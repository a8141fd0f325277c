import { describe, expect, it } from 'vitest';
import { readConfig } from './config.ts';

const KEY = 'k'.repeat(32);

describe('readConfig', () => {
  it('applies defaults', () => {
    const c = readConfig({ EDGE_AUTH_KEY: KEY });
    expect(c).toMatchObject({
      originUrl: undefined,
      bridgeUrl: undefined,
      purgeToken: undefined,
      originTimeoutMs: 10_000,
    });
    expect(c.hostMapTtlMs).toBe(30_000);
  });
  it.each([
    [{}, /EDGE_AUTH_KEY/],
    [{ EDGE_AUTH_KEY: 'short' }, /EDGE_AUTH_KEY/],
    [{ EDGE_AUTH_KEY: KEY, EDGE_PURGE_TOKEN: 'short' }, /EDGE_PURGE_TOKEN/],
    [{ EDGE_AUTH_KEY: KEY, ORIGIN_URL: 'ftp://x' }, /ORIGIN_URL/],
    [{ EDGE_AUTH_KEY: KEY, BRIDGE_URL: 'nope' }, /BRIDGE_URL/],
    [{ EDGE_AUTH_KEY: KEY, ORIGIN_TIMEOUT_MS: '5' }, /ORIGIN_TIMEOUT_MS/],
    [{ EDGE_AUTH_KEY: KEY, TRACE_SAMPLE_RATE: '2' }, /TRACE_SAMPLE_RATE/],
  ])('names the variable at fault in %j', (env, message) => {
    expect(() => readConfig(env)).toThrow(message);
  });
  it('parses the UA blocklist in lower case and trims the origin URL', () => {
    const c = readConfig({
      EDGE_AUTH_KEY: KEY,
      UA_BLOCKLIST: ' SQLMap , ,nikto',
      ORIGIN_URL: 'http://127.0.0.1:8080/',
    });
    expect(c.uaBlocklist).toEqual(['sqlmap', 'nikto']);
    expect(c.originUrl).toBe('http://127.0.0.1:8080');
  });
});
