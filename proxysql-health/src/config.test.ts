import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

const files: Record<string, string> = {
  '/run/secrets/db': 's3cret\n',
  '/run/secrets/drain': 'a-drain-token-long-enough\n',
};
const readFile = (p: string) => {
  const v = files[p];
  if (v === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
  return v;
};

describe('loadConfig', () => {
  it('has safe defaults: port 9200, 100 ms interval, ProxySQL off, drain API and /status off', () => {
    const c = loadConfig({});
    expect(c.port).toBe(9200);
    expect(c.intervalMs).toBe(100);
    expect(c.queryTimeoutMs).toBe(800);
    // Stale only past what a working loop can take: 3 intervals plus a round's whole deadline.
    expect(c.staleMs).toBe(3 * 100 + 800);
    expect(c.statusToken).toBeUndefined();
    expect(c.connections).toEqual({
      headersTimeoutMs: 5000,
      requestTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5000,
      maxConnections: 1000,
    });
    expect(c.proxysql).toBeUndefined();
    expect(c.drainToken).toBeUndefined();
    expect(c.staleIntervals).toBe(3);
    expect(c.mysql.user).toBe('health');
  });

  it('reads passwords from *_FILE, dropping the trailing newline', () => {
    const c = loadConfig(
      { MYSQL_PASSWORD_FILE: '/run/secrets/db', HEALTH_DRAIN_TOKEN_FILE: '/run/secrets/drain' },
      readFile,
    );
    expect(c.mysql.password).toBe('s3cret');
    expect(c.drainToken).toBe('a-drain-token-long-enough');
  });

  it('turns the ProxySQL check on with PROXYSQL_ADMIN_PORT, user stats by default', () => {
    const c = loadConfig({ PROXYSQL_ADMIN_PORT: '6032' });
    expect(c.proxysql).toMatchObject({ port: 6032, user: 'stats' });
  });

  it.each([
    [{ HEALTH_INTERVAL_MS: 'fast' }, /HEALTH_INTERVAL_MS/],
    [{ HEALTH_QUERY_TIMEOUT_MS: '10' }, /HEALTH_QUERY_TIMEOUT_MS/],
    [{ HEALTH_STATUS_TOKEN: 'short' }, /HEALTH_STATUS_TOKEN/],
    [{ HEALTH_HEADERS_TIMEOUT_MS: '0' }, /HEALTH_HEADERS_TIMEOUT_MS/],
    [{ HEALTH_MAX_CONNECTIONS: '0' }, /HEALTH_MAX_CONNECTIONS/],
    [{ PORT: '70000' }, /PORT/],
    [{ MYSQL_PASSWORD: 'a', MYSQL_PASSWORD_FILE: '/run/secrets/db' }, /both set/],
    [{ MYSQL_PASSWORD_FILE: '/missing' }, /MYSQL_PASSWORD_FILE: cannot read "\/missing" \(ENOENT\)/],
    [{ HEALTH_DRAIN_TOKEN: 'short' }, /HEALTH_DRAIN_TOKEN/],
    [{ HEALTH_TIMEOUT_FALL: '0' }, /HEALTH_TIMEOUT_FALL/],
    [{ HEALTH_CONNECTIONS_DEGRADED: '0.99' }, /HEALTH_CONNECTIONS_DEGRADED/],
    [{ MYSQL_USER: "x' OR 1" }, /MYSQL_USER/],
  ])('rejects %o naming the variable', (env, msg) => {
    expect(() => loadConfig(env, readFile)).toThrow(msg);
  });

  it('never puts a password in an error message', () => {
    expect(() => loadConfig({ MYSQL_PASSWORD: 'hunter2', PORT: 'x' })).toThrow(/^(?!.*hunter2)/);
  });
});
