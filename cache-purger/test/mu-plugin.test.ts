import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signBody } from '@wpfarm/common/contracts/signing';
import { type RedisInstance, startRedis } from '@wpfarm/common/peers/redis';
import { freePort } from '@wpfarm/common/process/managed';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS } from '../src/queue.ts';
import { type Peers, REPO, SECRETS, startPurger } from './helpers.ts';

/**
 * The WordPress mu-plugin (infra/wordpress), in PHP: its own test file on WordPress shims, the
 * signature against the Node reference, and real signed webhooks to a real running purger.
 */
const run = promisify(execFile);
const WP = join(REPO, 'infra/wordpress');

describe('mu-plugin (php-cli)', () => {
  it('passes its PHP tests (URL set, tags, one webhook per request, retry queue, issue 15 regressions)', async () => {
    const { stdout } = await run('php', [join(WP, 'tests/run-tests.php')], { timeout: 30_000 });
    expect(stdout).toMatch(/^\d+ checks, 0 failed/m);
  });

  it('signs exactly like common/contracts/signing (the reference)', async () => {
    const body = '{"site":"alpha","urls":["https://alpha.farm.test/ü/"]}';
    const child = execFile('php', [
      join(WP, 'tests/sign.php'),
      'k3y',
      '1795000000',
      'abcdefabcdefabcdef0123',
    ]);
    child.stdin!.end(body);
    const out = await new Promise<string>((resolve, reject) => {
      let s = '';
      child.stdout!.on('data', (d) => (s += d));
      child.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`php exited ${code}`))));
    });
    expect(JSON.parse(out)).toEqual(signBody('k3y', body, 1795000000 * 1000, 'abcdefabcdefabcdef0123'));
  });
});

describe('mu-plugin → real purger', () => {
  let dir: string;
  let redis: RedisInstance;
  let purger: Awaited<ReturnType<typeof startPurger>>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'purger-php-'));
    redis = await startRedis({ dir: join(dir, 'redis') });
    // Only the intake matters here: the node is a closed port, so jobs simply stay queued.
    const dead = await freePort();
    const peers = {
      dir,
      redisPort: redis.port,
      varnish: [{ name: 'varnish-1', port: dead }],
      purgeSecret: 'x',
      edge: { url: 'http://127.0.0.1:9' },
    };
    purger = await startPurger(peers as unknown as Peers, {}, 'purger-php');
  });
  afterAll(async () => {
    await purger?.proc.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a real signed webhook from the plugin gets 202 and is queued; tampered and replayed ones get 401; a retry of an accepted change is not queued twice', async () => {
    const { stdout } = await run('php', [join(WP, 'tests/send-webhook.php')], {
      timeout: 30_000,
      env: {
        PATH: process.env.PATH,
        FARM_SITE_ID: 'alpha',
        FARM_PURGER_URL: purger.url,
        FARM_WEBHOOK_SECRET_REF: 'WEBHOOK_SECRET_ALPHA',
        WEBHOOK_SECRET_ALPHA: SECRETS.WEBHOOK_SECRET_ALPHA,
      },
    });
    const out = JSON.parse(stdout);
    expect(out).toMatchObject({ plugin: 202, tampered: 401, first: 202, replayed: 401, queued: 0 });
    // Regression (issue 15): a webhook accepted but whose answer was lost was queued and sent again
    // as a new purge. The retry carries the change's event id, signed afresh: the purger answers
    // with the first job and queues nothing.
    expect(out.lost).toEqual({
      accepted: 202,
      queuedAfterTimeout: 1,
      retried: 202,
      sameEvent: true,
      sameJob: true,
      duplicate: true,
      queued: 0,
    });
    const r = new Redis(redis.url, { protocol: 2 });
    try {
      const entries = (await r.call('XRANGE', KEYS.jobs, '-', '+')) as [string, string[]][];
      // The plugin's webhook, the hand-signed one, and the lost-answer change once (not twice).
      expect(entries).toHaveLength(3);
      const fromPlugin = JSON.parse(entries[0]![1][3]!) as { site: string; urls: string[]; tags: string[] };
      expect(fromPlugin.site).toBe('alpha');
      expect(fromPlugin.urls).toContain('https://alpha.farm.test/hello-world/');
      expect(fromPlugin.urls).toContain('https://alpha.farm.test/2026/11/20/');
      expect(fromPlugin.tags).toContain('alpha-p-12');
    } finally {
      r.disconnect();
    }
  });
});
