import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signBody } from '@wpfarm/common/contracts/signing';
import { type PlainMariadb, startPlainMariadb } from '@wpfarm/common/peers/galera';
import { type RedisInstance, startRedis } from '@wpfarm/common/peers/redis';
import { freePort } from '@wpfarm/common/process/managed';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEYS } from '../src/queue.ts';
import { type Peers, REPO, SECRETS, secretOf, startPurger } from './helpers.ts';

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

/**
 * The plugin on a REAL WordPress: Debian's `wordpress` package (6.1) under php-cli, its database on
 * a real mariadbd, webhooks to the real purger. Each `wp()` call is one WordPress request
 * (tests/real-wordpress.php), run with an empty environment and the plugin set by constants and a
 * secret file: what a stock php-fpm pool (clear_env = yes) gives it.
 */
describe('mu-plugin on real WordPress (Debian wordpress, php-cli, mariadbd, the real purger)', () => {
  const WORDPRESS = '/usr/share/wordpress/wp-settings.php';
  let dir: string;
  let redis: RedisInstance;
  let db: PlainMariadb;
  let purger: Awaited<ReturnType<typeof startPurger>>;
  let secretFile: string;
  let deadUrl: string;
  let seed: { cat: number; writer: number; post: number; other: number };

  /** One WordPress request; its JSON result, the plugin's log lines and the jobs it added. */
  async function wp(
    action: string,
    id = 0,
    opts: { purgerUrl?: string; secret?: boolean; startAt?: number } = {},
  ) {
    const before = (await jobs()).length;
    const { stdout, stderr } = await run('php', [join(WP, 'tests/real-wordpress.php'), action, String(id)], {
      timeout: 30_000,
      env: {
        PATH: process.env.PATH,
        WPT_DB_SOCKET: db.socket,
        WPT_DB_NAME: 'wp_alpha',
        WPT_SITE_ID: 'alpha',
        WPT_PURGER_URL: opts.purgerUrl ?? purger.url,
        WPT_SECRET_FILE: opts.secret === false ? '' : secretFile,
        WPT_START_AT: opts.startAt ? String(opts.startAt) : '',
      },
    });
    // The plugin must stay free of PHP notices (WordPress 6.1's own deprecations on PHP 8.2 aside).
    const pluginNotices = stderr
      .split('\n')
      .filter((l) => /PHP (Warning|Notice|Deprecated|Fatal)/.test(l) && l.includes('mu-plugins'));
    expect(pluginNotices).toEqual([]);
    expect(stderr).not.toMatch(/WordPress database error/);
    const added = (await jobs()).slice(before);
    return {
      out: JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}'),
      log: stderr.split('\n').filter((l) => l.includes('farm-cache-purge:')),
      added,
    };
  }

  /** The purge bodies the purger accepted, oldest first. */
  async function jobs(): Promise<{ urls?: string[]; tags?: string[]; all?: boolean; event?: string }[]> {
    const r = new Redis(redis.url, { protocol: 2 });
    try {
      const entries = (await r.call('XRANGE', KEYS.jobs, '-', '+')) as [string, string[]][];
      return entries.map(([, f]) => JSON.parse(f[f.indexOf('body') + 1]!));
    } finally {
      r.disconnect();
    }
  }

  beforeAll(async () => {
    if (!existsSync(WORDPRESS))
      throw new Error(
        `${WORDPRESS} is missing: install Debian's wordpress package (scripts/system-packages.sh)`,
      );
    dir = mkdtempSync(join(tmpdir(), 'purger-wp-'));
    secretFile = join(dir, 'webhook-secret');
    writeFileSync(secretFile, `${secretOf('alpha')}\n`, { mode: 0o600 });
    deadUrl = `http://127.0.0.1:${await freePort()}`;
    [redis, db] = await Promise.all([
      startRedis({ dir: join(dir, 'redis') }),
      startPlainMariadb({ dir: join(dir, 'db'), name: 'mariadb-wp' }),
    ]);
    await db.query('CREATE DATABASE wp_alpha');
    const peers = {
      dir,
      redisPort: redis.port,
      varnish: [{ name: 'varnish-1', port: await freePort() }],
      purgeSecret: 'x',
      edge: { url: 'http://127.0.0.1:9' },
    };
    purger = await startPurger(peers as unknown as Peers, {}, 'purger-wp');
  }, 120_000);
  afterAll(async () => {
    await purger?.proc.stop();
    await db?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('installs with the plugin loaded: no database error, no retry cron registered, nothing sent', async () => {
    const { out, added } = await wp('install');
    expect(out.retryScheduled).toBe(false);
    expect(added).toEqual([]);
  });

  it('regression: configured by constants and a secret file with an empty environment (php-fpm clear_env), it sends; the job id is logged', async () => {
    const r = await wp('seed');
    seed = r.out;
    expect(r.added).toHaveLength(1);
    expect(r.log.join('\n')).toMatch(/purge accepted as job \d+-\d+/);
  });

  it('cannot send without a secret: a log line names the setting, administrators see a notice, nothing is sent', async () => {
    const r = await wp('edit-post', seed.post, { secret: false });
    expect(r.added).toEqual([]);
    expect(r.log.join('\n')).toMatch(/cannot send a purge \(no webhook secret: define FARM_PURGE_SECRET/);
    const notice = await wp('admin-notice', 0, { secret: false });
    expect(notice.out.admin).toMatch(/notice-error.*cannot send purges.*FARM_PURGE_SECRET/s);
    expect(notice.out.subscriber).toBe('');
    expect((await wp('admin-notice')).out.admin).toBe(''); // configured: no notice
  });

  it("regression: a single post carries its category's name tag, and renaming the category sends it (old and new archive)", async () => {
    const single = await wp('single-tags', seed.post);
    // The first page load after the install: WordPress creates every widget's empty settings.
    expect(single.added, 'a page load sends nothing').toEqual([]);
    expect(single.out.tags).toContain(`tn-${seed.cat}`);
    expect(single.out.tags).toContain(`an-${seed.writer}`);
    const home = await wp('home-tags');
    expect(home.out.tags).toEqual(expect.arrayContaining(['home', `p-${seed.post}`, `tn-${seed.cat}`]));
    // WordPress's default widgets: recent posts and comments in sidebar-1, Twenty Twenty-One's
    // footer on every page; archives and categories in sidebar-2, which this theme does not show.
    expect(single.out.tags).toEqual(expect.arrayContaining(['w-posts', 'w-comments']));
    expect(single.out.tags).not.toContain('w-terms');
    const r = await wp('rename-term', seed.cat);
    expect(r.added).toHaveLength(1);
    expect(r.added[0]!.tags).toEqual(
      expect.arrayContaining([`alpha-tn-${seed.cat}`, `alpha-t-${seed.cat}`, 'alpha-w-terms']),
    );
    expect(r.added[0]!.urls).toEqual(
      expect.arrayContaining([
        'https://alpha.farm.test/category/news/',
        'https://alpha.farm.test/category/world/',
      ]),
    );
  });

  it("editing a post does not send its category's name tag (the other posts in it stay cached)", async () => {
    const r = await wp('edit-post', seed.post);
    expect(r.added).toHaveLength(1);
    expect(r.added[0]!.tags).toContain(`alpha-p-${seed.post}`);
    expect(r.added[0]!.tags?.filter((t) => /-(tn|an)-/.test(t))).toEqual([]);
  });

  it('regression: a held comment, spamming and trashing it purge nothing; approving one purges the post page, not home', async () => {
    const held = await wp('held-comment', seed.post);
    expect(held.out.approved).toBe('0'); // WordPress held it (a first-time commenter)
    expect(held.added).toEqual([]);
    expect((await wp('spam-comment', held.out.comment)).added).toEqual([]);
    expect((await wp('trash-comment', held.out.comment)).added).toEqual([]);
    const second = await wp('held-comment', seed.post);
    const approved = await wp('approve-comment', second.out.comment);
    expect(approved.added).toHaveLength(1);
    expect(approved.added[0]!.urls).toContain('https://alpha.farm.test/hello-farm/');
    expect(approved.added[0]!.urls).not.toContain('https://alpha.farm.test/');
    expect(approved.added[0]!.tags).toEqual([`alpha-p-${seed.post}`, 'alpha-w-comments']);
  });

  it("an author's display name change sends their name tag", async () => {
    const r = await wp('display-name', seed.writer);
    expect(r.added).toHaveLength(1);
    expect(r.added[0]!.tags).toEqual(
      expect.arrayContaining([`alpha-an-${seed.writer}`, `alpha-a-${seed.writer}`]),
    );
  });

  it('the site title purges the whole site', async () => {
    const r = await wp('site-title');
    expect(r.added).toHaveLength(1);
    expect(r.added[0]!.all).toBe(true);
  });

  it('a scheduled post purges nothing until WP-cron publishes it, then its URLs', async () => {
    const scheduled = await wp('schedule-post');
    expect(scheduled.added).toEqual([]);
    const published = await wp('publish-due', scheduled.out.post);
    expect(published.added).toHaveLength(1);
    expect(published.added[0]!.urls).toEqual(
      expect.arrayContaining(['https://alpha.farm.test/scheduled/', 'https://alpha.farm.test/']),
    );
  });

  it('regression: trashing a post sends its public URL and tag, never ?p=N/feed/ or a __trashed slug', async () => {
    const r = await wp('trash-post', seed.other);
    expect(r.added).toHaveLength(1);
    const urls = r.added[0]!.urls ?? [];
    expect(urls).toContain('https://alpha.farm.test/other/');
    expect(urls.filter((u) => /__trashed|\?p=\d+\//.test(u))).toEqual([]);
    expect(r.added[0]!.tags).toContain(`alpha-p-${seed.other}`);
  });

  it("regression: a purge queued while the purger is down is delivered once its short retry is due, by a visitor's page load, without a new edit", async () => {
    const down = await wp('edit-post', seed.post, { purgerUrl: deadUrl });
    expect(down.added).toEqual([]);
    expect(down.log.join('\n')).toMatch(/purge queued/);
    const aged = await wp('age-retry');
    expect(aged.out.retryIn).toBeGreaterThanOrEqual(0);
    expect(aged.out.retryIn).toBeLessThanOrEqual(10);
    expect(aged.added).toEqual([]);
    // WP-cron is off here (as when its loopback cannot reach the site): a page load runs it.
    const visit = await wp('home-tags');
    expect(visit.added).toHaveLength(1);
    expect(visit.added[0]!.urls).toContain('https://alpha.farm.test/hello-farm/');
    expect(visit.log.join('\n')).toMatch(/queued purges delivered \(1\)/);
    expect((await wp('queue')).out).toEqual({ queued: 0, retry: false });
  });

  it('regression: 8 requests queueing at once while the purger is down, then 8 page loads draining at once: every purge reaches the purger exactly once', async () => {
    // Both used to read-modify-write one option: concurrent queueing lost purges, concurrent
    // draining sent the same purge from several requests.
    const N = 8;
    const gate = await recordingGate(purger.url);
    try {
      const startAt = Date.now() + 2_500; // after every WordPress has booted
      const edits = await Promise.all(
        Array.from({ length: N }, () => wp('edit-post', seed.post, { purgerUrl: gate.url, startAt })),
      );
      const queued = edits.map((e) => e.log.join('\n').match(/purge queued \(event ([\w-]+)/)?.[1]);
      expect(queued.filter(Boolean), 'each request queued its purge').toHaveLength(N);
      expect(new Set(queued).size).toBe(N);
      expect((await wp('queue')).out.queued, 'every queued purge is in the queue').toBe(N);

      gate.up = true;
      await wp('age-retry', 0, { purgerUrl: gate.url });
      const drainAt = Date.now() + 2_500;
      await Promise.all(
        Array.from({ length: N }, () => wp('home-tags', 0, { purgerUrl: gate.url, startAt: drainAt })),
      );
      const received = new Map<string, number>();
      for (const e of gate.events) received.set(e, (received.get(e) ?? 0) + 1);
      expect(Object.fromEntries(received), 'each purge sent once').toEqual(
        Object.fromEntries(queued.map((e) => [e, 1])),
      );
      const accepted = (await jobs()).map((j) => j.event).filter((e) => queued.includes(e));
      expect(accepted.sort()).toEqual([...(queued as string[])].sort());
      expect((await wp('queue')).out).toEqual({ queued: 0, retry: false });
    } finally {
      await gate.close();
    }
  });

  // Last: the new permalink structure changes every URL the tests above expect.
  it('a menu, a widget and the permalink structure each purge the whole site', async () => {
    for (const action of ['menu', 'widget', 'permalinks']) {
      const r = await wp(action);
      expect(r.added, action).toHaveLength(1);
      expect(r.added[0]!.all, action).toBe(true);
    }
  });
});

/**
 * A stand-in address for the purger that records the `event` of every webhook it forwards. Until
 * `up` is set it is down: it holds each webhook and drops all of them together 300 ms after the
 * first (a purger that stalls, then dies), so that requests sent at once also fail at once.
 */
async function recordingGate(target: string) {
  const gate = { up: false, events: [] as string[], url: '', close: async () => {} };
  let held: Socket[] = [];
  const server: Server = createServer((req, res) => {
    if (!gate.up) {
      held.push(req.socket);
      if (held.length === 1)
        setTimeout(() => {
          for (const s of held) s.destroy();
          held = [];
        }, 300);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString();
      gate.events.push(String((JSON.parse(body) as { event?: string }).event));
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(([k]) => k.startsWith('x-farm-') || k === 'content-type'),
      ) as Record<string, string>;
      const answer = await fetch(`${target}${req.url}`, { method: 'POST', headers, body });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(await answer.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gate.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  gate.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return gate;
}
