import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { freeFarmBase } from '@wpfarm/common/testing/farm-ports';
import { type RawResponse, rawRequest } from '@wpfarm/common/testing/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState } from './runner.ts';
import { readWordPressCredentials, type WordPressCredentials } from './wordpress.ts';

/**
 * End to end on real WordPress (issue 15 item 6): workerd → router front → Varnish ×3 → router
 * back → nginx → php-fpm → Galera, with the repository's mu-plugin and purger. Each action is a
 * WordPress call (REST with the farm's application password, or PHP inside WordPress for what
 * REST cannot do); the page(s) it changes must be fresh at the edge within 1 s of that call
 * returning. Every page is primed first and asserted cached, so "fresh" proves a purge and not a
 * page that was never cached. One farm for the file (one Galera node, two sites: alpha with the
 * REST API uncached, gamma with it cached).
 * FARM_E2E_RUN_DIR=<run folder> reuses a farm already running from there (development only).
 */
const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'infra/local-farm/cli.ts');
const FRESH_MS = 1000;

const reuse = process.env.FARM_E2E_RUN_DIR;
const runDir = reuse ?? mkdtempSync(join(tmpdir(), 'farm-wp-'));
let base = 0;
let alpha: WordPressCredentials;
let gamma: WordPressCredentials;
let startOut = '';

const farm = (args: string[]) =>
  run(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    timeout: 300_000,
    maxBuffer: 1 << 24,
  }).catch((err) => err as { stdout: string; stderr: string });

beforeAll(async () => {
  if (!reuse) {
    base = await freeFarmBase();
    const out = await farm([
      'start',
      '--detach',
      '--galera-nodes=1',
      '--sites=alpha,gamma',
      `--base-port=${base}`,
      `--run-dir=${runDir}`,
    ]);
    startOut = out.stdout;
  }
  const state = readState(runDir);
  if (!state?.ready) throw new Error(`the farm did not start:\n${startOut.slice(-3000)}`);
  base = state.basePort;
  const creds = readWordPressCredentials(runDir);
  alpha = creds.find((c) => c.id === 'alpha') as WordPressCredentials;
  gamma = creds.find((c) => c.id === 'gamma') as WordPressCredentials;
}, 300_000);

afterAll(async () => {
  if (reuse) return;
  await farm(['stop', `--run-dir=${runDir}`]);
  rmSync(runDir, { recursive: true, force: true });
}, 60_000);

const edgeUrl = (path: string) => `http://127.0.0.1:${base + 50}${path}`;

/** A visitor's request at the edge. */
function edge(
  site: WordPressCredentials,
  path: string,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  return rawRequest(edgeUrl(path), { headers: { host: site.host, ...headers } });
}

/** A WordPress REST call straight to the site's nginx, as admin with the application password. */
async function wp<T = Record<string, unknown>>(
  site: WordPressCredentials,
  method: string,
  route: string,
  body?: Record<string, unknown>,
): Promise<T> {
  const res = await rawRequest(`${site.origin}/wp-json${route}`, {
    method,
    headers: {
      host: site.host,
      authorization: `Basic ${Buffer.from(`${site.admin}:${site.appPassword}`).toString('base64')}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
    timeoutMs: 30_000,
  });
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as T;
}

/** PHP run inside the site's WordPress as admin (what REST cannot do); returns its JSON result. */
async function wpPhp(site: WordPressCredentials, code: string): Promise<unknown> {
  const out = await new Promise<string>((resolveP, reject) => {
    const child = spawn(
      'php',
      [join(ROOT, 'infra/local-farm/wordpress/eval.php'), join(runDir, 'wordpress/core'), site.host],
      {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', FARM_WP_SITE: site.id },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', (code) =>
      code === 0 ? resolveP(stdout) : reject(new Error(`php: ${stderr || stdout}`)),
    );
    child.stdin.end(code);
  });
  return JSON.parse(out.trim().split('\n').pop() ?? 'null');
}

/** Requests the page until the edge serves it from its cache, and returns that cached copy. */
async function primed(site: WordPressCredentials, path: string): Promise<RawResponse> {
  let last: RawResponse | undefined;
  for (let i = 0; i < 5; i++) {
    last = await edge(site, path);
    if (last.headers['x-edge-cache'] === 'HIT') return last;
  }
  throw new Error(
    `${path} is not cached at the edge: ${last?.status} ${last?.headers['x-edge-cache']} ${last?.headers['x-edge-cache-reason']}`,
  );
}

/** Polls the edge until `fresh(body)` holds; fails when that takes more than FRESH_MS from `since`. */
async function freshWithin(
  site: WordPressCredentials,
  path: string,
  fresh: (r: RawResponse) => boolean,
  since: number,
  limitMs = FRESH_MS,
): Promise<number> {
  let last: RawResponse | undefined;
  for (;;) {
    last = await edge(site, path);
    if (fresh(last)) return Date.now() - since;
    if (Date.now() - since > limitMs)
      throw new Error(
        `${site.host}${path} still stale ${Date.now() - since} ms after the change (edge ${last.headers['x-edge-cache']}, age ${last.headers.age})`,
      );
    await new Promise((r) => setTimeout(r, 40));
  }
}

const has = (text: string) => (r: RawResponse) => r.status === 200 && r.body.includes(text);
const lacks = (text: string) => (r: RawResponse) => r.status === 200 && !r.body.includes(text);
const pathOf = (link: string) => new URL(link).pathname + new URL(link).search;
const stamp = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

interface Post {
  id: number;
  link: string;
  title: { rendered: string };
  categories: number[];
  tags: number[];
  author: number;
}

async function seededPost(site: WordPressCredentials, query = ''): Promise<Post> {
  // Seeded posts only: the tests' own posts are Uncategorized (1) and have no tags.
  const posts = await wp<Post[]>(site, 'GET', `/wp/v2/posts?per_page=1&categories_exclude=1${query}`);
  return posts[0] as Post;
}

describe('real WordPress behind the farm: the farm itself', () => {
  it('prints how to log in and where the credentials are', () => {
    if (!reuse) expect(startOut).toMatch(/wordpress alpha .* admin \/ \S+; app password "\S+"/);
    expect(alpha.appPassword).toMatch(/^[A-Za-z0-9]{24}$/);
  });

  it('serves seeded WordPress through the edge: MISS then HIT, real theme HTML, 50 posts', async () => {
    const page = await primed(alpha, '/');
    expect(page.body).toContain('twentytwentyone');
    expect(page.body).toContain('Seeded post');
    const all = await rawRequest(`${alpha.origin}/wp-json/wp/v2/posts?per_page=1`, {
      headers: { host: alpha.host },
    });
    expect(Number(all.headers['x-wp-total'])).toBeGreaterThanOrEqual(50);
  });

  it("WordPress's REMOTE_ADDR is the visitor (CF-Connecting-IP at the edge), not a spoofed X-Forwarded-For or 127.0.0.1", async () => {
    // A comment records REMOTE_ADDR: post one through the whole path as a visitor.
    const post = await seededPost(alpha);
    const author = `ip-${stamp()}`;
    const res = await rawRequest(edgeUrl('/wp-comments-post.php'), {
      method: 'POST',
      headers: {
        host: alpha.host,
        'content-type': 'application/x-www-form-urlencoded',
        'cf-connecting-ip': '203.0.113.77',
        'x-forwarded-for': '198.51.100.66',
      },
      body: new URLSearchParams({
        comment_post_ID: String(post.id),
        author,
        email: `${author}@example.test`,
        comment: `A visitor's address check ${author}`,
      }).toString(),
    });
    expect(res.status).toBeLessThan(400);
    const ip = await wpPhp(
      alpha,
      `$c = get_comments(['author_email' => '${author}@example.test', 'status' => 'all']); return $c ? $c[0]->comment_author_IP : null;`,
    );
    expect(ip).toBe('203.0.113.77');
  });
});

describe('real WordPress behind the farm: each change fresh at the edge within 1 s', () => {
  it('publish: a new post is on the home page', async () => {
    await primed(alpha, '/');
    const title = `Published ${stamp()}`;
    await wp(alpha, 'POST', '/wp/v2/posts', { title, content: 'Fresh content', status: 'publish' });
    await freshWithin(alpha, '/', has(title), Date.now());
  });

  it('update: the post page, the home page and its category archive show the new title', async () => {
    const title = `Updated ${stamp()}`;
    const created = await wp<Post>(alpha, 'POST', '/wp/v2/posts', {
      title: `Before ${title}`,
      status: 'publish',
    });
    const path = pathOf(created.link);
    await primed(alpha, path);
    await primed(alpha, '/');
    await wp(alpha, 'POST', `/wp/v2/posts/${created.id}`, { title });
    const t0 = Date.now();
    await freshWithin(alpha, path, has(title), t0);
    await freshWithin(alpha, '/', has(title), t0);
  });

  it('schedule → publish by cron: the post appears once WordPress cron publishes it', async () => {
    await primed(alpha, '/');
    const title = `Scheduled ${stamp()}`;
    // WordPress schedules only what is at least a minute ahead; then the test moves the date and
    // the cron event to now, so the cron run below is the one that publishes.
    const when = new Date(Date.now() + 120_000).toISOString().slice(0, 19);
    const post = await wp<{ id: number; status: string }>(alpha, 'POST', '/wp/v2/posts', {
      title,
      status: 'future',
      date_gmt: when,
    });
    expect(post.status).toBe('future');
    await wpPhp(
      alpha,
      `global $wpdb; $now = time() - 2;
       $wpdb->update($wpdb->posts, ['post_date' => gmdate('Y-m-d H:i:s', $now), 'post_date_gmt' => gmdate('Y-m-d H:i:s', $now)], ['ID' => ${post.id}]);
       clean_post_cache(${post.id});
       wp_clear_scheduled_hook('publish_future_post', [${post.id}]);
       return wp_schedule_single_event($now, 'publish_future_post', [${post.id}]);`,
    );
    expect((await edge(alpha, '/')).body).not.toContain(title);
    // The call WordPress's cron makes. The farm's ticker makes it too, every 10 s, and while its
    // run holds WordPress's cron lock ours returns at once without running anything: call again
    // until the post is published, as WordPress would on its next run.
    const until = Date.now() + 30_000;
    let status = 'future';
    let published = Date.now();
    while (status !== 'publish' && Date.now() < until) {
      await rawRequest(`${alpha.origin}/wp-cron.php?doing_wp_cron`, {
        headers: { host: alpha.host },
        timeoutMs: 30_000,
      });
      published = Date.now();
      status = (await wp<{ status: string }>(alpha, 'GET', `/wp/v2/posts/${post.id}`)).status;
      if (status !== 'publish') await sleep(500);
    }
    expect(status).toBe('publish');
    await freshWithin(alpha, '/', has(title), published);
  });

  it('trash then untrash: the post leaves the home page and its page, then comes back', async () => {
    const title = `Trashed ${stamp()}`;
    const created = await wp<Post>(alpha, 'POST', '/wp/v2/posts', { title, status: 'publish' });
    const path = pathOf(created.link);
    await primed(alpha, path);
    await primed(alpha, '/');
    await wp(alpha, 'DELETE', `/wp/v2/posts/${created.id}`);
    const t0 = Date.now();
    await freshWithin(alpha, '/', lacks(title), t0);
    await freshWithin(alpha, path, (r) => r.status === 404, t0);
    await wpPhp(alpha, `wp_untrash_post(${created.id}); return wp_publish_post(${created.id});`);
    const t1 = Date.now();
    await freshWithin(alpha, '/', has(title), t1);
    await freshWithin(alpha, path, has(title), t1);
  });

  it('comments: a held comment purges nothing; approving shows it, unapproving hides it', async () => {
    const post = await seededPost(alpha, '&offset=3');
    const path = pathOf(post.link);
    const text = `Comment ${stamp()}`;
    await primed(alpha, path);
    await primed(alpha, '/');
    // A visitor's comment that WordPress holds for moderation (its text has a moderation key).
    await wpPhp(alpha, `update_option('moderation_keys', 'holdme'); return true;`);
    const posted = await rawRequest(edgeUrl('/wp-comments-post.php'), {
      method: 'POST',
      headers: { host: alpha.host, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        comment_post_ID: String(post.id),
        author: 'Held Visitor',
        email: 'held@example.test',
        comment: `${text} holdme`,
      }).toString(),
    });
    expect(posted.status).toBe(302);
    const held = await wp<{ id: number; status: string }[]>(
      alpha,
      'GET',
      `/wp/v2/comments?post=${post.id}&status=hold&search=${encodeURIComponent(text)}`,
    );
    expect(held[0]?.status).toBe('hold');
    const comment = held[0] as { id: number };
    // Nothing visible changed, so both pages stay cached (a purge would make the next one a MISS).
    await new Promise((r) => setTimeout(r, 700));
    for (const p of [path, '/']) {
      const r = await edge(alpha, p);
      expect(r.headers['x-edge-cache'], `${p} after a held comment`).toBe('HIT');
    }
    await wp(alpha, 'POST', `/wp/v2/comments/${comment.id}`, { status: 'approved' });
    await freshWithin(alpha, path, has(text), Date.now());
    await wp(alpha, 'POST', `/wp/v2/comments/${comment.id}`, { status: 'hold' });
    await freshWithin(alpha, path, lacks(text), Date.now());
  });

  it('renaming a category refreshes the posts in it, not only its archive', async () => {
    const post = await seededPost(alpha, '&offset=5');
    const catId = post.categories[0] as number;
    const path = pathOf(post.link);
    const name = `Category ${stamp()}`;
    await primed(alpha, path);
    const cat = await wp<{ link: string }>(alpha, 'GET', `/wp/v2/categories/${catId}`);
    await primed(alpha, pathOf(cat.link));
    await wp(alpha, 'POST', `/wp/v2/categories/${catId}`, { name });
    const t0 = Date.now();
    await freshWithin(alpha, path, has(name), t0);
    await freshWithin(alpha, pathOf(cat.link), has(name), t0);
  });

  it('renaming a tag refreshes the posts in it', async () => {
    const post = await seededPost(alpha, '&offset=7');
    const tagId = post.tags[0] as number;
    const path = pathOf(post.link);
    const name = `Tag ${stamp()}`;
    await primed(alpha, path);
    await wp(alpha, 'POST', `/wp/v2/tags/${tagId}`, { name });
    await freshWithin(alpha, path, has(name), Date.now());
  });

  it('editing a menu refreshes every page (the menu is on all of them)', async () => {
    const post = await seededPost(alpha, '&offset=9');
    const path = pathOf(post.link);
    await primed(alpha, path);
    await primed(alpha, '/');
    const items = await wp<{ id: number; type: string }[]>(alpha, 'GET', '/wp/v2/menu-items?per_page=20');
    const item = items.find((i) => i.type === 'custom') ?? (items[0] as { id: number });
    const title = `Menu ${stamp()}`;
    await wp(alpha, 'POST', `/wp/v2/menu-items/${item.id}`, { title });
    const t0 = Date.now();
    await freshWithin(alpha, '/', has(title), t0);
    await freshWithin(alpha, path, has(title), t0);
  });

  it('changing the site title refreshes the whole site', async () => {
    const post = await seededPost(alpha, '&offset=11');
    const path = pathOf(post.link);
    await primed(alpha, path);
    await primed(alpha, '/');
    const title = `Site ${stamp()}`;
    await wp(alpha, 'POST', '/wp/v2/settings', { title });
    const t0 = Date.now();
    await freshWithin(alpha, '/', has(title), t0);
    await freshWithin(alpha, path, has(title), t0);
  });

  it("changing an author's display name refreshes their posts", async () => {
    const post = await seededPost(alpha, '&author=2&offset=2');
    const path = pathOf(post.link);
    await primed(alpha, path);
    const name = `Jane ${stamp()}`;
    await wp(alpha, 'POST', '/wp/v2/users/2', { name });
    await freshWithin(alpha, path, has(name), Date.now());
  });

  it('changing permalinks refreshes the links on the home page', async () => {
    await primed(alpha, '/');
    const before = (await edge(alpha, '/')).body;
    expect(before).toMatch(/alpha\.farm\.test\/\d{4}\/\d{2}\//);
    // set_permalink_structure re-reads the rules' structure; update_option alone would flush stale rules.
    await wpPhp(
      alpha,
      `global $wp_rewrite; $wp_rewrite->set_permalink_structure('/archives/%post_id%/'); flush_rewrite_rules(false); return true;`,
    );
    try {
      await freshWithin(
        alpha,
        '/',
        (r) => r.status === 200 && /alpha\.farm\.test\/archives\/\d+\//.test(r.body),
        Date.now(),
      );
    } finally {
      await wpPhp(
        alpha,
        `global $wp_rewrite; $wp_rewrite->set_permalink_structure('/%year%/%monthnum%/%postname%/'); flush_rewrite_rules(false); return true;`,
      );
    }
  });
});

describe('real WordPress behind the farm: what must never be cached, and special pages', () => {
  it('a logged-in visitor bypasses every cache and sees the admin bar; wp-admin is never cached', async () => {
    const login = await rawRequest(edgeUrl('/wp-login.php'), {
      method: 'POST',
      headers: {
        host: alpha.host,
        'content-type': 'application/x-www-form-urlencoded',
        cookie: 'wordpress_test_cookie=WP%20Cookie%20check',
      },
      body: new URLSearchParams({ log: alpha.admin, pwd: alpha.adminPassword, testcookie: '1' }).toString(),
    });
    expect(login.status).toBe(302);
    const cookies = ([] as string[])
      .concat(login.headers['set-cookie'] ?? [])
      .map((c) => c.split(';')[0])
      .join('; ');
    expect(cookies).toMatch(/wordpress_logged_in_/);
    await primed(alpha, '/');
    for (let i = 0; i < 2; i++) {
      const home = await edge(alpha, '/', { cookie: cookies });
      expect(home.headers['x-edge-cache']).toBe('BYPASS');
      expect(home.body).toContain('wpadminbar');
      const admin = await edge(alpha, '/wp-admin/', { cookie: cookies });
      expect(admin.status).toBe(200);
      expect(admin.headers['x-edge-cache']).not.toBe('HIT');
      expect(admin.headers['x-cache'] ?? '').not.toBe('HIT');
      expect(admin.body).toContain('Dashboard');
    }
    const anonymous = await edge(alpha, '/');
    expect(anonymous.body).not.toContain('wpadminbar');
  });

  it('a password-protected post shows its form to everyone and its content to no anonymous visitor', async () => {
    const secret = `Secret ${stamp()}`;
    const post = await wp<Post>(alpha, 'POST', '/wp/v2/posts', {
      title: `Protected ${stamp()}`,
      content: secret,
      status: 'publish',
      password: 'open-sesame',
    });
    const path = pathOf(post.link);
    for (let i = 0; i < 2; i++) {
      const r = await edge(alpha, path);
      expect(r.status).toBe(200);
      expect(r.body).toContain('post-password-form');
      expect(r.body).not.toContain(secret);
    }
    const unlock = await rawRequest(edgeUrl('/wp-login.php?action=postpass'), {
      method: 'POST',
      headers: { host: alpha.host, 'content-type': 'application/x-www-form-urlencoded', referer: post.link },
      body: 'post_password=open-sesame',
    });
    const cookie = ([] as string[])
      .concat(unlock.headers['set-cookie'] ?? [])
      .map((c) => c.split(';')[0])
      .join('; ');
    expect(cookie).toMatch(/wp-postpass_/);
    const unlocked = await edge(alpha, path, { cookie });
    expect(unlocked.body).toContain(secret);
    expect(unlocked.headers['x-edge-cache']).toBe('BYPASS');
    expect((await edge(alpha, path)).body).not.toContain(secret);
  });

  it('a preview is never cached, whatever the preview value', async () => {
    const post = await wp<Post>(alpha, 'POST', '/wp/v2/posts', {
      title: `Draft ${stamp()}`,
      status: 'draft',
    });
    for (const q of [`?p=${post.id}&preview=true`, `?p=${post.id}&preview=1`]) {
      for (let i = 0; i < 2; i++) {
        const r = await edge(alpha, `/${q}`);
        expect(r.headers['x-edge-cache'], q).not.toBe('HIT');
        expect(r.headers['x-cache'] ?? '', q).not.toBe('HIT');
      }
    }
  });

  it('/feed/, the sitemap and search answer from WordPress; a 404 is a 404', async () => {
    const feed = await edge(alpha, '/feed/');
    expect(feed.status).toBe(200);
    expect(feed.body).toContain('<rss');
    const sitemap = await edge(alpha, '/wp-sitemap.xml');
    expect(sitemap.status).toBe(200);
    expect(sitemap.body).toContain('sitemapindex');
    const search = await edge(alpha, '/?s=Seeded');
    expect(search.status).toBe(200);
    expect(search.body).toContain('Seeded post');
    const missing = await edge(alpha, `/no-such-page-${stamp()}/`);
    expect(missing.status).toBe(404);
  });

  it('?rest_route= follows the site REST policy like /wp-json/: never cached on alpha, purged on gamma', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await edge(alpha, '/?rest_route=/wp/v2/posts');
      expect(r.status).toBe(200);
      expect(r.headers['x-edge-cache']).not.toBe('HIT');
      expect(r.headers['x-cache'] ?? '').not.toBe('HIT');
    }
    await primed(gamma, '/?rest_route=/wp/v2/posts');
    const title = `REST ${stamp()}`;
    await wp(gamma, 'POST', '/wp/v2/posts', { title, status: 'publish' });
    await freshWithin(gamma, '/?rest_route=/wp/v2/posts', has(title), Date.now());
  });
});

/** The mu-plugin's log lines written since `offset` (php-fpm collects the pools' stderr). */
function pluginLog(offset = 0): string {
  return readFileSync(join(runDir, 'logs', 'wordpress-php-fpm.log'), 'utf8').slice(offset);
}

/** Waits up to `ms` for `pattern` in the plugin's log since `offset`. */
async function logShows(pattern: RegExp, offset: number, ms: number): Promise<RegExpMatchArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = pluginLog(offset).match(pattern);
    if (m) return m;
    if (Date.now() > deadline)
      throw new Error(
        `no ${pattern} in the plugin's log within ${ms} ms:\n${pluginLog(offset).slice(-2000)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('real WordPress behind the farm: the purger down, then back', () => {
  let restarted: ManagedProcess | undefined;
  afterAll(async () => {
    await restarted?.stop();
  });

  const purgerPid = () => {
    const p = readState(runDir)?.processes.find((x) => x.name === 'cache-purger');
    if (!p) throw new Error('no cache-purger in the farm');
    return p.pid;
  };

  it('a webhook that timed out but was accepted is retried as the same change: one job, not two', async () => {
    const pid = purgerPid();
    await primed(alpha, '/');
    const offset = pluginLog().length;
    const title = `While hung ${stamp()}`;
    process.kill(-pid, 'SIGSTOP'); // a hung purger: the webhook times out, the plugin queues it
    let queued: RegExpMatchArray;
    try {
      await wp(alpha, 'POST', '/wp/v2/posts', { title, status: 'publish' });
      // The plugin sends after the response (fastcgi_finish_request): wait for its timeout.
      queued = await logShows(/purge queued \(event (\w+)/, offset, 10_000);
    } finally {
      process.kill(-pid, 'SIGCONT');
    }
    const event = queued[1] as string;
    // The purger then reads the request it had received: the page is fresh without a retry.
    await freshWithin(alpha, '/', has(title), Date.now(), 3000);
    // The retry (cron, ticked every 10 s) is answered with the first job, not queued again.
    await logShows(
      new RegExp(`accepted as job \\S+ \\(a retry of an accepted change\\), event ${event}`),
      offset,
      60_000,
    );
    const jobs = [
      ...pluginLog(offset).matchAll(
        new RegExp(`accepted as job (\\S+?)(?: \\(a retry of an accepted change\\))?, event ${event}`, 'g'),
      ),
    ].map((m) => m[1]);
    expect(new Set(jobs).size, `event ${event} answered with jobs ${jobs.join(', ')}`).toBe(1);
  }, 90_000);

  it('a change made while the purger is down is delivered once it is back, without a new edit', async () => {
    const pid = purgerPid();
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const env = Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    await primed(alpha, '/');
    const offset = pluginLog().length;
    process.kill(-pid, 'SIGKILL'); // down: connections refused
    await new Promise((r) => setTimeout(r, 300));
    const title = `While down ${stamp()}`;
    await wp(alpha, 'POST', '/wp/v2/posts', { title, status: 'publish' });
    await logShows(/purge queued \(event \w+/, offset, 5000);
    await new Promise((r) => setTimeout(r, 1000));
    expect((await edge(alpha, '/')).body).not.toContain(title);
    // The same purger again (same command, environment, ports and Redis), as a supervisor would.
    restarted = await startProcess({
      name: 'cache-purger-restarted',
      command: cmd[0] as string,
      args: cmd.slice(1),
      env,
      cwd: join(ROOT, 'cache-purger'),
      logFile: join(runDir, 'logs', 'cache-purger-restarted.log'),
      ready: { http: `http://127.0.0.1:${base + 70}/healthz`, status: 200 },
    });
    // Delivered by the plugin's retry within a minute of the purger's return, no edit needed.
    await freshWithin(alpha, '/', has(title), Date.now(), 60_000);
    await logShows(/queued purges delivered/, offset, 5000);
  }, 120_000);
});
