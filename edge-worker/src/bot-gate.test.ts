import { describe, expect, it } from 'vitest';
import { botGate, type GateFacts, probeReason } from './bot-gate.ts';

describe('probeReason', () => {
  it.each([
    ['/.env', '.env'],
    ['/.env.production', '.env'],
    ['/wp/.env', '.env'],
    ['/%2Eenv', '.env'],
    ['/.git/HEAD', '.git'],
    ['/.svn/entries', 'dotfile'],
    ['/.DS_Store', 'dotfile'],
    ['/.well-known/acme-challenge/abc', undefined],
    ['/.well-known/.env', '.env'],
    ['/wp-config.php.bak', 'wp-config-backup'],
    ['/wp-config.php~', 'wp-config-backup'],
    ['/wp-config.old', 'wp-config-backup'],
    ['/wp-config.php', undefined],
    ['/dump.sql', '.sql'],
    ['/backup/site.sql.gz', '.sql'],
    ['/index.php.bak', 'backup-file'],
    ['/wp-content/debug.log', 'debug.log'],
    ['/phpinfo.php', 'phpinfo'],
    ['/', undefined],
    ['/2024/01/hello-world/', undefined],
    ['/%E0%A4%A', undefined],
  ])('%s → %s', (path, reason) => {
    expect(probeReason(path)).toBe(reason);
  });
});

describe('botGate', () => {
  const base: GateFacts = {
    method: 'GET',
    path: '/',
    userAgent: 'Mozilla/5.0',
    verifiedBot: undefined,
    xmlrpcAllowed: false,
    uaBlocklist: ['sqlmap', 'nikto'],
  };
  it.each([
    [{}, 'pass'],
    [{ path: '/.env' }, 'refuse:404:probe:.env'],
    [{ path: '/.env', verifiedBot: true }, 'refuse:404:probe:.env'],
    [{ path: '/xmlrpc.php', method: 'POST' }, 'refuse:403:xmlrpc:disabled'],
    [{ path: '/xmlrpc.php', method: 'POST', xmlrpcAllowed: true }, 'limit:xmlrpc'],
    [{ path: '/wp-login.php', method: 'POST' }, 'limit:login'],
    [{ path: '/wp-login.php', method: 'GET' }, 'pass'],
    [{ path: '/wp-login.php', method: 'POST', verifiedBot: true }, 'pass'],
    [{ userAgent: 'Googlebot/2.1', verifiedBot: false }, 'refuse:403:bot:fake-googlebot'],
    [{ userAgent: 'Googlebot/2.1', verifiedBot: true }, 'pass'],
    [{ userAgent: 'Googlebot/2.1', verifiedBot: undefined }, 'pass'],
    [
      { userAgent: 'Mozilla/5.0 (compatible; bingbot/2.0)', verifiedBot: false },
      'refuse:403:bot:fake-bingbot',
    ],
    [{ userAgent: 'sqlmap/1.7-dev', verifiedBot: undefined }, 'refuse:403:ua:sqlmap'],
    [{ userAgent: 'Mozilla/5.0 Nikto/2.5' }, 'refuse:403:ua:nikto'],
    [{ userAgent: '' }, 'pass'],
  ] as [Partial<GateFacts>, string][])('%j → %s', (over, expected) => {
    const v = botGate({ ...base, ...over });
    const got =
      v.action === 'refuse'
        ? `refuse:${v.status}:${v.reason}`
        : v.action === 'limit'
          ? `limit:${v.bucket}`
          : 'pass';
    expect(got).toBe(expected);
  });
});
