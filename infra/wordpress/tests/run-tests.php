<?php
/**
 * Tests of the mu-plugin's logic under php-cli, against the WordPress shims in wp-shims.php.
 * Run: php infra/wordpress/tests/run-tests.php   (exit code 0 = all passed). The vitest suite in
 * cache-purger/test/mu-plugin.test.ts runs it, and the real-purger test next to it.
 */

declare(strict_types=1);

require __DIR__ . '/wp-shims.php';
$plugin = __DIR__ . '/../mu-plugins/farm-cache-purge';
foreach (['Config', 'Signer', 'UrlSet', 'Widgets', 'Tags', 'RetryQueue', 'Client', 'Plugin'] as $f) {
    require_once "$plugin/$f.php";
}

use FarmCachePurge\Client;
use FarmCachePurge\Config;
use FarmCachePurge\Plugin;
use FarmCachePurge\RetryQueue;
use FarmCachePurge\Signer;
use FarmCachePurge\Tags;
use FarmCachePurge\UrlSet;
use FarmCachePurge\Widgets;

$failures = 0;
$count = 0;
// The plugin must be free of PHP notices, warnings and deprecations: any of them fails the run.
error_reporting(E_ALL);
set_error_handler(function (int $no, string $message, string $file, int $line): bool {
    check('no PHP notice', false, "$message at $file:$line");
    return true;
});
function check(string $name, bool $ok, string $detail = ''): void
{
    global $failures, $count;
    $count++;
    if (!$ok) {
        $failures++;
        fwrite(STDERR, "FAIL $name" . ($detail ? ": $detail" : '') . "\n");
    }
}
/** Every error_log line of the current test. */
function logged(): string
{
    return (string) @file_get_contents($GLOBALS['log']);
}
/** A plugin whose webhooks land in $bodies (decoded), answering what $status holds. */
function capture(Config $config, array &$bodies, int &$status = 202): Plugin
{
    $p = new Plugin($config, new Client($config, function ($u, $h, $b) use (&$bodies, &$status) {
        $bodies[] = json_decode($b, true);
        return $status;
    }));
    $p->register();
    return $p;
}
/** The purges in the retry queue, oldest first. */
function queued(): array
{
    return array_map(fn ($j) => $j['purge'], (new RetryQueue())->jobs(1000));
}
$GLOBALS['log'] = tempnam(sys_get_temp_dir(), 'farm-cache-purge-log-');
ini_set('error_log', $GLOBALS['log']);
register_shutdown_function(fn () => @unlink($GLOBALS['log']));
function test(string $name, callable $fn): void
{
    shim_reset();
    file_put_contents($GLOBALS['log'], '');
    try {
        $fn();
    } catch (Throwable $e) {
        check($name, false, get_class($e) . ': ' . $e->getMessage());
    }
}
$config = new Config('alpha', 'http://purger.invalid', 'alpha-secret');
$GLOBALS['config'] = $config;
$post = fn () => shim_add_post(new WP_Post(['ID' => 12, 'post_name' => 'hello-world']), ['category' => [3], 'post_tag' => [7]]);

test('URL set for a post: the Proxy Cache Purge set plus pagination, dates, sitemaps, shortlink', function () use ($post) {
    $urls = UrlSet::forPost($post(), 3);
    $h = 'https://alpha.farm.test';
    $want = [
        // Proxy Cache Purge's set
        "$h/hello-world/", "$h/wp-json/wp/v2/posts/12",
        "$h/category/news/", "$h/category/news/feed/", "$h/wp-json/wp/v2/categories/3",
        "$h/tag/php/", "$h/tag/php/feed/", "$h/wp-json/wp/v2/tags/7",
        "$h/author/user2/", "$h/author/user2/feed/",
        "$h/feed/", "$h/feed/atom/", "$h/feed/rdf/", "$h/comments/feed/", "$h/hello-world/feed/", "$h/",
        // what it misses
        "$h/page/2/", "$h/page/3/", "$h/category/news/page/2/", "$h/tag/php/page/3/", "$h/author/user2/page/2/",
        "$h/2026/", "$h/2026/11/", "$h/2026/11/20/",
        "$h/wp-sitemap.xml", "$h/wp-sitemap-posts-post-1.xml", "$h/wp-sitemap-taxonomies-category-1.xml",
        "$h/wp-sitemap-taxonomies-post_tag-1.xml", "$h/wp-sitemap-users-1.xml",
        "$h/?p=12",
    ];
    foreach ($want as $u) {
        check("URL set contains $u", in_array($u, $urls, true));
    }
    check('URL set has no duplicates', count($urls) === count(array_unique($urls)));
    check('URL set stays on the site', array_filter($urls, fn ($u) => !str_starts_with($u, "$h/")) === []);
    check('URL set bounded', count($urls) < 60, (string) count($urls));
});

test('the posts page and a post type archive are purged with their pages', function () {
    update_option('page_for_posts', 5);
    shim_add_post(new WP_Post(['ID' => 5, 'post_type' => 'page', 'post_name' => 'blog']));
    $urls = UrlSet::forPost(shim_add_post(new WP_Post(['ID' => 40, 'post_type' => 'product', 'post_name' => 'mug'])), 2);
    check('posts page', in_array('https://alpha.farm.test/blog/', $urls, true));
    check('posts page 2', in_array('https://alpha.farm.test/blog/page/2/', $urls, true));
    check('archive', in_array('https://alpha.farm.test/products/page/2/', $urls, true));
    check('no REST URL for a type not in REST', !in_array('https://alpha.farm.test/wp-json/wp/v2/product/40', $urls, true));
    check('no date archives for a non-post type', !in_array('https://alpha.farm.test/2026/', $urls, true));
});

test('tags: post, home, feed, author, terms; prefixed with the site id', function () use ($post) {
    $tags = Tags::prefix('alpha', Tags::forPost($post()));
    sort($tags);
    check('tags', $tags === ['alpha-a-2', 'alpha-feed', 'alpha-home', 'alpha-p-12', 'alpha-t-3', 'alpha-t-7'], implode(' ', $tags));
});

test('page headers: xkey space-separated, Cache-Tag comma-separated, listed posts included', function () {
    shim_query('home', 0, [12, 14]);
    $h = Tags::headers(Tags::prefix('alpha', Tags::forCurrentPage()));
    check('xkey', $h['xkey'] === 'alpha-home alpha-p-12 alpha-p-14 alpha-an-2', $h['xkey']);
    check('Cache-Tag', $h['Cache-Tag'] === 'alpha-home,alpha-p-12,alpha-p-14,alpha-an-2', $h['Cache-Tag']);
    shim_query('category', 3, [12]);
    check('category', Tags::forCurrentPage() === ['t-3', 'tn-3', 'p-12', 'an-2'], implode(' ', Tags::forCurrentPage()));
});

test('signature: HMAC-SHA256 over "timestamp.nonce.body", v1=<hex>', function () {
    $h = Signer::sign('s3cret', '{"site":"alpha","all":true}', 1700000000, '0123456789abcdef0123456789abcdef');
    $want = hash_hmac('sha256', '1700000000.0123456789abcdef0123456789abcdef.{"site":"alpha","all":true}', 's3cret');
    check('signature', $h['x-farm-signature'] === "v1=$want");
    check('timestamp', $h['x-farm-timestamp'] === '1700000000');
    check('fresh nonce each time', Signer::sign('s', 'b')['x-farm-nonce'] !== Signer::sign('s', 'b')['x-farm-nonce']);
});

test('the retry is scheduled on init, never while WordPress installs (regression: a database error on install)', function () use ($config) {
    $p = new Plugin($config, new Client($config, fn () => 202));
    $p->register();
    check('nothing scheduled when the plugin loads', wp_next_scheduled('farm_cache_purge_retry') === false);
    $GLOBALS['shim']['installing'] = true;
    do_action('init');
    check('nothing scheduled during the install', wp_next_scheduled('farm_cache_purge_retry') === false);
    $GLOBALS['shim']['installing'] = false;
    do_action('init');
    check('scheduled on init once installed', is_int(wp_next_scheduled('farm_cache_purge_retry')));
});

test('one webhook per request, with everything the request changed', function () use ($config, $post) {
    $sent = [];
    $client = new Client($config, function (string $url, array $headers, string $body) use (&$sent) {
        $sent[] = [$url, $headers, $body];
        return 202;
    });
    $p = new Plugin($config, $client);
    $p->register();
    $post();
    shim_add_post(new WP_Post(['ID' => 13, 'post_name' => 'second']));
    $GLOBALS['shim']['comments'][99] = new WP_Comment('99', '13');
    do_action('save_post', 12);
    do_action('transition_post_status', 'publish', 'draft', get_post(12));
    do_action('comment_post', 99, 1);
    do_action('edited_term', 7, 7, 'post_tag');
    check('nothing sent before shutdown', $sent === []);
    do_action('shutdown');
    check('exactly one webhook', count($sent) === 1, (string) count($sent));
    [$url, $headers, $body] = $sent[0];
    $purge = json_decode($body, true);
    check('url', $url === 'http://purger.invalid/v1/purge');
    check('site', $purge['site'] === 'alpha');
    check('both posts', in_array('https://alpha.farm.test/hello-world/', $purge['urls'], true) && in_array('https://alpha.farm.test/second/', $purge['urls'], true));
    check('term tags', in_array('alpha-t-7', $purge['tags'], true) && in_array('alpha-p-13', $purge['tags'], true));
    check('signed', $headers['x-farm-signature'] === 'v1=' . hash_hmac('sha256', $headers['x-farm-timestamp'] . '.' . $headers['x-farm-nonce'] . '.' . $body, 'alpha-secret'));
    do_action('shutdown');
    check('nothing more to send', count($sent) === 1);
});

test('a renamed post purges its old permalink as well as the new one', function () use ($config, $post) {
    $bodies = [];
    $p = new Plugin($config, new Client($config, function ($u, $h, $b) use (&$bodies) {
        $bodies[] = json_decode($b, true);
        return 202;
    }));
    $p->register();
    $post();
    do_action('pre_post_update', 12);
    get_post(12)->post_name = 'renamed';
    do_action('save_post', 12);
    do_action('shutdown');
    check('old permalink', in_array('https://alpha.farm.test/hello-world/', $bodies[0]['urls'] ?? [], true));
    check('new permalink', in_array('https://alpha.farm.test/renamed/', $bodies[0]['urls'] ?? [], true));
});

test('drafts, revisions and private post types send nothing', function () use ($config) {
    $sent = 0;
    $p = new Plugin($config, new Client($config, function () use (&$sent) {
        $sent++;
        return 202;
    }));
    $p->register();
    shim_add_post(new WP_Post(['ID' => 20, 'post_status' => 'draft']));
    shim_add_post(new WP_Post(['ID' => 21]));
    $GLOBALS['shim']['revisions'][] = 21;
    shim_add_post(new WP_Post(['ID' => 22, 'post_type' => 'nav_menu_item']));
    do_action('save_post', 20);
    do_action('save_post', 21);
    do_action('save_post', 22);
    do_action('shutdown');
    check('none sent', $sent === 0, (string) $sent);
});

test('theme switch, customizer and menus purge the whole site', function () use ($config, $post) {
    $bodies = [];
    $p = new Plugin($config, new Client($config, function ($u, $h, $b) use (&$bodies) {
        $bodies[] = json_decode($b, true);
        return 202;
    }));
    $p->register();
    $post();
    do_action('save_post', 12);
    do_action('wp_update_nav_menu', 4);
    do_action('shutdown');
    check('site-wide', count($bodies) === 1 && ($bodies[0]['all'] ?? false) === true && !isset($bodies[0]['urls']), json_encode($bodies));
});

test('purger unreachable or 503: queued (one options row each), resent (signed afresh) once it answers', function () use ($config, $post) {
    $status = 0;
    $seen = [];
    $client = new Client($config, function ($u, $h, $b) use (&$status, &$seen) {
        $seen[] = [$h['x-farm-nonce'], $b];
        return $status;
    });
    $p = new Plugin($config, $client);
    $p->register();
    $post();
    do_action('save_post', 12);
    do_action('shutdown');
    check('queued after a failure', count(queued()) === 1);
    $status = 503;
    do_action('wp_trash_post', 12);
    do_action('shutdown');
    check('still queued on 503, both kept', count(queued()) === 2);
    $status = 202;
    do_action('save_post', 12);
    do_action('shutdown');
    check('queue drained after a 202', queued() === []);
    check('retries carry the queued bodies', $seen[0][1] === end($seen)[1] || in_array($seen[0][1], array_column($seen, 1), true));
    check('every send has its own nonce', count(array_unique(array_column($seen, 0))) === count($seen));
});

test('a 4xx is not retried (the request itself is wrong)', function () use ($config, $post) {
    $client = new Client($config, fn () => 403);
    check('status', $client->send(['site' => 'alpha', 'all' => true]) === 403);
    check('not queued', queued() === []);
    check('logged as dropped', str_contains(logged(), 'purger refused a purge with HTTP 403'), logged());
});

test('the retry queue is bounded: overflow collapses into one site-wide purge', function () use ($config) {
    $client = new Client(new Config('alpha', 'http://x', 's', 3, 1.0, 3), fn () => 0);
    for ($i = 0; $i < 5; $i++) {
        $client->send(['site' => 'alpha', 'tags' => ["alpha-p-$i"]]);
    }
    $q = queued();
    check('bounded', count($q) <= 3, json_encode($q));
    check('covers everything', ($q[0]['all'] ?? false) === true, json_encode($q));
    check('nothing queued after the site-wide purge (it covers later changes too)', count($q) === 1, json_encode($q));
});

test('more URLs than the purger accepts in one webhook (2,000) become a site-wide purge', function () use ($config) {
    $p = new Plugin($config, new Client($config, fn () => 202));
    // Each post adds about four URLs of its own (permalink, REST URL, comments feed, shortlink).
    for ($i = 0; $i < 600; $i++) {
        shim_add_post(new WP_Post(['ID' => 100 + $i, 'post_name' => "p$i"]), ['category' => [3]]);
        $p->onPost(100 + $i);
    }
    check('site-wide', $p->pending() === ['site' => 'alpha', 'all' => true], json_encode(array_keys($p->pending() ?? [])));
});

// ---- Issue 15: the secret under a stock php-fpm, a voice when it cannot send, the job id ----

test('secret: FARM_PURGE_SECRET, then FARM_PURGE_SECRET_FILE, then FARM_WEBHOOK_SECRET_REF; a set but unreadable source is named', function () {
    $file = tempnam(sys_get_temp_dir(), 'farm-secret-');
    file_put_contents($file, "from-file\n");
    $get = fn (array $s) => fn (string $n) => $s[$n] ?? '';
    check('value first', Config::readSecret($get(['FARM_PURGE_SECRET' => 'v', 'FARM_PURGE_SECRET_FILE' => $file])) === ['v', '']);
    check('file, trimmed', Config::readSecret($get(['FARM_PURGE_SECRET_FILE' => $file])) === ['from-file', '']);
    [$s, $why] = Config::readSecret($get(['FARM_PURGE_SECRET_FILE' => '/nonexistent/secret']));
    check('unreadable file named', $s === '' && str_contains($why, '/nonexistent/secret'), $why);
    [$s, $why] = Config::readSecret($get([]));
    check('nothing set: says what to define and why the environment is not enough', $s === '' && str_contains($why, 'FARM_PURGE_SECRET_FILE') && str_contains($why, 'clear_env'), $why);
    [$s, $why] = Config::readSecret($get(['FARM_WEBHOOK_SECRET_REF' => 'NOT_SET_ANYWHERE_42']));
    check('ref that resolves to nothing is named', $s === '' && str_contains($why, 'NOT_SET_ANYWHERE_42'), $why);
    unlink($file);
});

test('regression: with an empty environment (php-fpm clear_env=yes) the plugin can send when configured by constants and a secret file', function () {
    $file = tempnam(sys_get_temp_dir(), 'farm-secret-');
    file_put_contents($file, 'alpha-secret');
    $config = dirname(__DIR__) . '/mu-plugins/farm-cache-purge/Config.php';
    $code = 'define("FARM_SITE_ID", "alpha"); define("FARM_PURGER_URL", "http://purger:8070/");'
        . ' define("FARM_PURGE_SECRET_FILE", ' . var_export($file, true) . '); require ' . var_export($config, true) . ';'
        . ' $c = FarmCachePurge\Config::fromEnvironment(); echo json_encode([$c->canSend(), $c->secret, $c->purgerUrl]);';
    $out = shell_exec('env -i ' . escapeshellarg(PHP_BINARY) . ' -r ' . escapeshellarg($code));
    check('constants + file, no environment', $out === '[true,"alpha-secret","http:\/\/purger:8070"]', (string) $out);
    unlink($file);
});

test('cannot send (no secret, no endpoint): a log line naming the setting, an admin notice for administrators', function () use ($post) {
    $config = new Config('alpha', '', '', secretProblem: 'no webhook secret: define FARM_PURGE_SECRET');
    $sent = 0;
    $p = new Plugin($config, new Client($config, function () use (&$sent) {
        $sent++;
        return 202;
    }));
    $p->register();
    $post();
    do_action('save_post', 12);
    do_action('shutdown');
    check('nothing sent', $sent === 0);
    check('logged with the missing setting', str_contains(logged(), 'cannot send a purge (FARM_PURGER_URL is not set)'), logged());
    ob_start();
    do_action('admin_notices');
    check('no notice for a user who cannot manage options', ob_get_clean() === '');
    $GLOBALS['shim']['can'] = true;
    ob_start();
    do_action('admin_notices');
    $notice = ob_get_clean();
    check('notice for administrators', str_contains($notice, 'notice-error') && str_contains($notice, 'FARM_PURGER_URL is not set'), $notice);
    $withUrl = new Config('alpha', 'http://purger', '', secretProblem: 'no webhook secret: define FARM_PURGE_SECRET');
    check('no secret: the secret problem', $withUrl->problem() === 'no webhook secret: define FARM_PURGE_SECRET');
    $ok = new Plugin($GLOBALS['config'], new Client($GLOBALS['config'], fn () => 202));
    ob_start();
    $ok->adminNotice();
    check('no notice when it can send', ob_get_clean() === '');
});

test('the purger\'s job id is logged on success', function () use ($config, $post) {
    $p = new Plugin($config, new Client($config, fn () => [202, '{"job":"1795000000000-3","status":"/v1/jobs/1795000000000-3"}']));
    $p->register();
    $post();
    do_action('save_post', 12);
    do_action('shutdown');
    check('job id in the log', str_contains(logged(), 'purge accepted as job 1795000000000-3'), logged());
});

// ---- Term, author, menu, widget, title, theme, permalink changes ----

test('regression: renaming a category purges the single posts in it (their pages carry its name tag; the term sends it)', function () use ($config, $post) {
    $post();
    shim_query('single', 12, [12]);
    $page = Tags::forCurrentPage();
    check('single post carries its terms\' and author\'s name tags', array_diff(['p-12', 'tn-3', 'tn-7', 'an-2'], $page) === [], implode(' ', $page));
    check('a single is not an archive: no t-/home tag', !in_array('t-3', $page, true) && !in_array('home', $page, true), implode(' ', $page));
    $bodies = [];
    capture($config, $bodies);
    do_action('edit_terms', 3, 'category');
    $GLOBALS['shim']['terms']['category'][3] = 'world';
    do_action('edited_term', 3, 3, 'category');
    do_action('shutdown');
    check('one webhook', count($bodies) === 1);
    check('the name tag reaches the single posts', in_array('alpha-tn-3', $bodies[0]['tags'] ?? [], true), json_encode($bodies));
    check('the archive tag', in_array('alpha-t-3', $bodies[0]['tags'] ?? [], true));
    check('old archive URL', in_array('https://alpha.farm.test/category/news/', $bodies[0]['urls'] ?? [], true));
    check('new archive URL', in_array('https://alpha.farm.test/category/world/', $bodies[0]['urls'] ?? [], true));
});

test('editing a post does not purge the other posts of its category (no name tags sent)', function () use ($config, $post) {
    $bodies = [];
    capture($config, $bodies);
    $post();
    do_action('save_post', 12);
    do_action('shutdown');
    $tags = $bodies[0]['tags'] ?? [];
    check('archive tags sent', in_array('alpha-t-3', $tags, true) && in_array('alpha-a-2', $tags, true), implode(' ', $tags));
    check('no name tags', preg_grep('/-(tn|an)-/', $tags) === [], implode(' ', $tags));
});

test('a term of a private taxonomy purges nothing; a menu (nav_menu term) purges the whole site', function () use ($config) {
    $bodies = [];
    capture($config, $bodies);
    do_action('edited_term', 50, 50, 'wp_theme');
    do_action('shutdown');
    check('private taxonomy: nothing', $bodies === [], json_encode($bodies));
    do_action('edited_term', 51, 51, 'nav_menu');
    do_action('shutdown');
    check('menu: site-wide', ($bodies[0]['all'] ?? false) === true, json_encode($bodies));
});

test('a term linked from a menu purges the whole site when renamed', function () use ($config) {
    $bodies = [];
    capture($config, $bodies);
    $GLOBALS['shim']['menu_items']['taxonomy:3'] = [900];
    do_action('edit_terms', 3, 'category');
    do_action('edited_term', 3, 3, 'category');
    do_action('shutdown');
    check('site-wide', ($bodies[0]['all'] ?? false) === true, json_encode($bodies));
});

test('an author\'s display name or slug change purges their bylines and archives (old and new slug); other profile edits nothing', function () use ($config) {
    $bodies = [];
    capture($config, $bodies);
    $before = clone $GLOBALS['shim']['users'][2];
    do_action('profile_update', 2, $before);
    do_action('shutdown');
    check('unchanged: nothing', $bodies === []);
    $GLOBALS['shim']['users'][2] = new WP_User(2, 'Renamed', 'renamed');
    do_action('profile_update', 2, $before);
    do_action('shutdown');
    $b = $bodies[0] ?? [];
    check('author tags', array_diff(['alpha-a-2', 'alpha-an-2'], $b['tags'] ?? []) === [], json_encode($b));
    check('old archive', in_array('https://alpha.farm.test/author/user2/', $b['urls'] ?? [], true), json_encode($b));
    check('new archive and its feed', in_array('https://alpha.farm.test/author/renamed/', $b['urls'] ?? [], true)
        && in_array('https://alpha.farm.test/author/renamed/feed/', $b['urls'] ?? [], true), json_encode($b));
    shim_query('author', 2, [12]);
    check('the author archive carries both author tags', array_diff(['a-2', 'an-2'], Tags::forCurrentPage()) === []);
});

test('site title, tagline, widgets, theme settings and permalinks purge the whole site; unrelated options nothing', function () use ($config) {
    foreach (['blogname', 'blogdescription', 'widget_block', 'sidebars_widgets', 'theme_mods_twentytwentythree', 'permalink_structure', 'category_base'] as $option) {
        $bodies = [];
        capture($config, $bodies);
        do_action('updated_option', $option, 'old', 'new');
        do_action('shutdown');
        check("$option: site-wide", ($bodies[0]['all'] ?? false) === true, json_encode($bodies));
        shim_reset();
    }
    $bodies = [];
    capture($config, $bodies);
    foreach (['cron', '_transient_doing_cron', RetryQueue::LEGACY_OPTION, RetryQueue::PREFIX . '0', 'active_plugins', 'recently_edited'] as $option) {
        do_action('updated_option', $option, 'old', 'new');
    }
    do_action('shutdown');
    check('unrelated options: nothing', $bodies === [], json_encode($bodies));
    // WP_Widget::get_settings() adds each widget's empty settings on a page load that lacks them.
    do_action('added_option', 'widget_recent-posts', []);
    do_action('added_option', 'widget_block', ['_multiwidget' => 1]);
    do_action('shutdown');
    check('empty widget settings created on a page load: nothing', $bodies === [], json_encode($bodies));
    do_action('added_option', 'widget_text', [2 => ['text' => 'hello'], '_multiwidget' => 1]);
    do_action('shutdown');
    check('a widget added with settings: site-wide', ($bodies[0]['all'] ?? false) === true, json_encode($bodies));
});

test('block-theme navigation, templates and global styles (not public types) purge the whole site', function () use ($config) {
    foreach (['wp_navigation', 'wp_template_part', 'wp_global_styles'] as $i => $type) {
        $bodies = [];
        capture($config, $bodies);
        shim_add_post(new WP_Post(['ID' => 300 + $i, 'post_type' => $type]));
        do_action('save_post', 300 + $i);
        do_action('shutdown');
        check("$type: site-wide", ($bodies[0]['all'] ?? false) === true, json_encode($bodies));
        shim_reset();
    }
    $bodies = [];
    capture($config, $bodies);
    shim_add_post(new WP_Post(['ID' => 310, 'post_type' => 'wp_template', 'post_status' => 'auto-draft']));
    do_action('save_post', 310);
    do_action('transition_post_status', 'auto-draft', 'new', get_post(310));
    do_action('shutdown');
    check('a draft template: nothing', $bodies === [], json_encode($bodies));
});

test('a page renamed under a block theme (its navigation lists pages) or linked from a menu purges the whole site; under a classic theme only its own URLs', function () use ($config) {
    $page = fn () => shim_add_post(new WP_Post(['ID' => 5, 'post_type' => 'page', 'post_name' => 'about', 'post_title' => 'About']));
    $bodies = [];
    capture($config, $bodies);
    $page();
    do_action('pre_post_update', 5, ['post_title' => 'About us', 'post_name' => 'about', 'post_status' => 'publish']);
    do_action('save_post', 5);
    do_action('shutdown');
    check('classic theme, not in a menu: not site-wide', !isset($bodies[0]['all']) && in_array('https://alpha.farm.test/about/', $bodies[0]['urls'] ?? [], true), json_encode($bodies));
    shim_reset();
    $GLOBALS['shim']['block_theme'] = true;
    $bodies = [];
    capture($config, $bodies);
    $page();
    do_action('pre_post_update', 5, ['post_title' => 'About us', 'post_name' => 'about', 'post_status' => 'publish']);
    do_action('shutdown');
    check('block theme: site-wide', ($bodies[0]['all'] ?? false) === true, json_encode($bodies));
    shim_reset();
    $GLOBALS['shim']['menu_items']['post_type:5'] = [901];
    $bodies = [];
    capture($config, $bodies);
    $page();
    do_action('pre_post_update', 5, ['post_title' => 'About', 'post_name' => 'about', 'post_status' => 'publish', 'post_content' => 'new text']);
    do_action('shutdown');
    check('in a menu, content edit only: not site-wide', !isset($bodies[0]['all']), json_encode($bodies));
    do_action('pre_post_update', 5, ['post_title' => 'About us', 'post_name' => 'about', 'post_status' => 'publish']);
    do_action('shutdown');
    check('in a menu, title changed: site-wide', ($bodies[1]['all'] ?? false) === true, json_encode($bodies));
});

test('sidebar widgets: what they list, as tags (classic and block widgets, WordPress\'s default set, inactive ones ignored)', function () {
    // wp_install_defaults(): block widgets 2..6 in sidebar-1 (search, recent posts, recent comments, archives, categories).
    $blocks = [
        2 => ['content' => '<!-- wp:search /-->'],
        3 => ['content' => '<!-- wp:group --><div class="wp-block-group"><!-- wp:heading --><h2>Recent Posts</h2><!-- /wp:heading --><!-- wp:latest-posts /--></div><!-- /wp:group -->'],
        4 => ['content' => '<!-- wp:group --><!-- wp:latest-comments {"displayAvatar":false} /--><!-- /wp:group -->'],
        6 => ['content' => '<!-- wp:categories /-->'],
        7 => ['content' => '<!-- wp:paragraph --><p>latest-posts</p><!-- /wp:paragraph -->'],
    ];
    $cases = [
        'default install' => [['sidebar-1' => ['block-2', 'block-3', 'block-4', 'block-6'], 'array_version' => 3], null, ['w-posts', 'w-comments', 'w-terms']],
        'classic widgets' => [['sidebar-1' => ['recent-posts-2', 'tag_cloud-3', 'text-4']], null, ['w-posts', 'w-terms']],
        'inactive widgets' => [['wp_inactive_widgets' => ['recent-posts-2', 'block-3']], null, []],
        'a sidebar the theme does not show' => [['sidebar-9' => ['recent-comments-2']], ['sidebar-1'], []],
        'text that names a block is not the block' => [['sidebar-1' => ['block-7', 'block-2']], null, []],
        'search only' => [['sidebar-1' => ['block-2']], ['sidebar-1'], []],
    ];
    foreach ($cases as $name => [$sidebars, $registered, $want]) {
        $got = Widgets::tags($sidebars, $blocks, $registered);
        sort($got);
        sort($want);
        check("widgets: $name", $got === $want, json_encode($got));
    }
});

test('regression: pages carry their sidebars\' tags, and a publish, a retitle, a term change or an approved comment sends them; a content edit does not', function () use ($config, $post) {
    update_option('sidebars_widgets', ['sidebar-1' => ['recent-posts-2', 'categories-3', 'recent-comments-4']]);
    $post();
    shim_query('single', 12, [12]);
    check('a single post carries them', array_diff(['w-posts', 'w-terms', 'w-comments'], Tags::forCurrentPage()) === [], implode(' ', Tags::forCurrentPage()));
    shim_query('feed', 0, [12]);
    check('a feed does not', preg_grep('/^w-/', Tags::forCurrentPage()) === []);
    $bodies = [];
    capture($config, $bodies);
    do_action('transition_post_status', 'publish', 'draft', get_post(12));
    do_action('shutdown');
    check('publish: posts and terms lists', array_diff(['alpha-w-posts', 'alpha-w-terms'], $bodies[0]['tags'] ?? []) === [], json_encode($bodies));
    do_action('pre_post_update', 12, ['post_title' => 'New title', 'post_name' => 'hello-world', 'post_status' => 'publish']);
    do_action('shutdown');
    check('retitle: posts lists', in_array('alpha-w-posts', $bodies[1]['tags'] ?? [], true), json_encode($bodies[1] ?? null));
    do_action('pre_post_update', 12, ['post_title' => '', 'post_name' => 'hello-world', 'post_status' => 'publish', 'post_content' => 'new']);
    do_action('save_post', 12);
    do_action('shutdown');
    check('content edit: no sidebar tag', preg_grep('/-w-/', $bodies[2]['tags'] ?? []) === [], json_encode($bodies[2] ?? null));
    do_action('edited_term', 3, 3, 'category');
    do_action('shutdown');
    check('term: terms lists', in_array('alpha-w-terms', $bodies[3]['tags'] ?? [], true), json_encode($bodies[3] ?? null));
});

// ---- Comments: held and spam purge nothing; approved ones only the post's page ----

test('regression: a held or spam comment purges nothing (was the post\'s full set, home included)', function () use ($config, $post) {
    $bodies = [];
    capture($config, $bodies);
    $post();
    $GLOBALS['shim']['comments'][99] = new WP_Comment('99', '12', '0');
    do_action('comment_post', 99, 0);
    do_action('comment_post', 99, 'spam');
    do_action('edit_comment', 99);
    do_action('transition_comment_status', 'spam', 'unapproved', get_comment(99));
    do_action('transition_comment_status', 'trash', 'unapproved', get_comment(99));
    do_action('transition_comment_status', 'delete', 'spam', get_comment(99));
    do_action('wp_insert_comment', 99, get_comment(99));
    do_action('shutdown');
    check('nothing sent', $bodies === [], json_encode($bodies));
});

test('an approved comment inserted without comment_post (the REST API, importers) purges the post', function () use ($config, $post) {
    $bodies = [];
    capture($config, $bodies);
    $post();
    $GLOBALS['shim']['comments'][98] = new WP_Comment('98', '12', '1');
    do_action('wp_insert_comment', 98, get_comment(98));
    do_action('shutdown');
    check('post page', in_array('https://alpha.farm.test/hello-world/', $bodies[0]['urls'] ?? [], true), json_encode($bodies));
});

test('approving or unapproving a comment purges the post\'s page, its comment feeds and its tag, not the home page', function () use ($config, $post) {
    $bodies = [];
    capture($config, $bodies);
    $post();
    $GLOBALS['shim']['comments'][99] = new WP_Comment('99', '12', '1');
    do_action('transition_comment_status', 'approved', 'unapproved', get_comment(99));
    do_action('shutdown');
    $b = $bodies[0] ?? [];
    check('post page', in_array('https://alpha.farm.test/hello-world/', $b['urls'] ?? [], true), json_encode($b));
    check('comment feeds', in_array('https://alpha.farm.test/hello-world/feed/', $b['urls'] ?? [], true) && in_array('https://alpha.farm.test/comments/feed/', $b['urls'] ?? [], true), json_encode($b));
    check('tags: the post (lists showing its comment count), sidebars listing recent comments', ($b['tags'] ?? []) === ['alpha-p-12', 'alpha-w-comments'], json_encode($b));
    check('not the home page', !in_array('https://alpha.farm.test/', $b['urls'] ?? [], true), json_encode($b));
    do_action('transition_comment_status', 'unapproved', 'approved', get_comment(99));
    do_action('shutdown');
    check('unapprove purges too', count($bodies) === 2);
});

// ---- No junk URLs ----

test('regression: trashing a post sends its public URLs and tags, never ?p=7/feed/ or a __trashed slug', function () use ($config) {
    $bodies = [];
    capture($config, $bodies);
    $p = shim_add_post(new WP_Post(['ID' => 7, 'post_name' => 'seven']), ['category' => [3]]);
    // The order of hooks in wp_trash_post(): wp_trash_post, the __trashed slug written, then
    // wp_update_post (pre_post_update, transition, save_post), then trashed_post.
    do_action('wp_trash_post', 7);
    $p->post_name = 'seven__trashed';
    do_action('pre_post_update', 7, ['post_status' => 'trash', 'post_name' => 'seven__trashed']);
    $p->post_status = 'trash';
    do_action('transition_post_status', 'trash', 'publish', $p);
    do_action('save_post', 7);
    do_action('trashed_post', 7);
    do_action('shutdown');
    $urls = $bodies[0]['urls'] ?? [];
    check('its permalink', in_array('https://alpha.farm.test/seven/', $urls, true), json_encode($urls));
    check('no __trashed', preg_grep('/__trashed/', $urls) === [], json_encode(preg_grep('/__trashed/', $urls)));
    check('no path after ?p=', preg_grep('#\?p=\d+/#', $urls) === [], json_encode(preg_grep('#\?p=\d+/#', $urls)));
    check('its tag', in_array('alpha-p-7', $bodies[0]['tags'] ?? [], true));
});

test('junk URLs are dropped; plain permalinks page with ?paged=N', function () {
    $clean = UrlSet::clean(['https://a.test/?p=7/feed/', 'https://a.test/x__trashed/', 'https://a.test/?cat=3/page/2/', 'https://a.test/?p=7', 'https://a.test/ok/#c']);
    check('clean', $clean === ['https://a.test/?p=7', 'https://a.test/ok/'], json_encode($clean));
    update_option('permalink_structure', '');
    check('plain home', UrlSet::paged('https://a.test/', 3) === ['https://a.test/', 'https://a.test/?paged=2', 'https://a.test/?paged=3']);
    check('plain archive', UrlSet::paged('https://a.test/?cat=3', 2) === ['https://a.test/?cat=3', 'https://a.test/?cat=3&paged=2']);
    $urls = UrlSet::forPost(shim_add_post(new WP_Post(['ID' => 12]), ['category' => [3]]), 2);
    check('plain: no junk in a post set', preg_grep('#\?[^/]*/#', $urls) === [], json_encode(preg_grep('#\?[^/]*/#', $urls)));
});

// ---- Retries: soon after the purger returns, and never a second job for one change ----

test('regression: queued purges are retried by a short cron event with backoff, delivered without a new edit', function () use ($config, $post) {
    $now = 1_800_000_000;
    $status = 0;
    $seen = [];
    $client = new Client($config, function ($u, $h, $b) use (&$status, &$seen) {
        $seen[] = ['nonce' => $h['x-farm-nonce'], 'body' => json_decode($b, true)];
        return $status;
    }, function () use (&$now) {
        return $now;
    });
    $p = new Plugin($config, $client);
    $p->register();
    $post();
    do_action('save_post', 12);
    do_action('shutdown');
    $due = wp_next_scheduled(Client::RETRY_SOON);
    check('a short retry is scheduled when a purge is queued', is_int($due) && $due - $now <= Client::MIN_DELAY, var_export($due, true));
    $delays = [];
    for ($i = 0; $i < 8; $i++) {
        $now = (int) wp_next_scheduled(Client::RETRY_SOON);
        shim_run_cron(Client::RETRY_SOON);
        $delays[] = (int) wp_next_scheduled(Client::RETRY_SOON) - $now;
    }
    check('backs off', $delays[0] < $delays[4], json_encode($delays));
    check('never more than a minute apart while down', max($delays) <= 60 && max($delays) === Client::MAX_DELAY, json_encode($delays));
    $status = 202; // the purger is back; nobody edits anything
    $now = (int) wp_next_scheduled(Client::RETRY_SOON);
    shim_run_cron(Client::RETRY_SOON);
    check('delivered by the retry event', queued() === []);
    check('no retry left scheduled', wp_next_scheduled(Client::RETRY_SOON) === false);
    $events = array_unique(array_map(fn ($s) => $s['body']['event'] ?? '', $seen));
    check('every attempt carries the same event id', count($events) === 1 && preg_match('/^[A-Za-z0-9_-]{8,64}$/', (string) reset($events)) === 1, json_encode($events));
    check('every attempt has its own nonce', count(array_unique(array_column($seen, 'nonce'))) === count($seen));
    check('logged', str_contains(logged(), 'queued purges delivered (1)'), logged());
});

test('a purge queued by another request while the retry is sending is kept, not overwritten', function () use ($config) {
    $calls = 0;
    $client = new Client($config, function () use (&$calls) {
        $calls++;
        if ($calls === 2) { // the retry is on the wire; another PHP request queues its purge
            (new RetryQueue())->add(['site' => 'alpha', 'tags' => ['alpha-p-99'], 'event' => 'other-request-1'], time());
        }
        return $calls === 1 ? 0 : 202;
    });
    $client->send(['site' => 'alpha', 'tags' => ['alpha-p-1']]);
    wp_clear_scheduled_hook(Client::RETRY_SOON);
    $left = $client->retryQueued();
    $q = queued();
    check('the other purge is still queued', $left === 1 && ($q[0]['event'] ?? '') === 'other-request-1', json_encode($q));
    check('its retry is scheduled', is_int(wp_next_scheduled(Client::RETRY_SOON)));
});

// ---- The retry queue under concurrent requests: one row per purge, claimed before it is sent ----

/** A client whose webhooks are counted by event in $sent, answering what $status holds. */
function counting(Config $config, array &$sent, int &$status = 202, ?callable $clock = null): Client
{
    return new Client($config, function ($u, $h, $b) use (&$sent, &$status) {
        $e = json_decode($b, true)['event'] ?? '?';
        $sent[$e] = ($sent[$e] ?? 0) + 1;
        return $status;
    }, $clock);
}

test('regression: two requests queueing at once both keep their purge (one shared option lost one)', function () use ($config) {
    $sent = [];
    $down = 0;
    $a = counting($config, $sent, $down);
    // B queues between A's read of the queue and A's write: with one option, A's write erased B's.
    $GLOBALS['shim']['before_write'] = function () use ($config) {
        $s = [];
        $d = 0;
        counting($config, $s, $d)->send(['site' => 'alpha', 'tags' => ['alpha-p-2'], 'event' => 'request-b-1']);
    };
    $a->send(['site' => 'alpha', 'tags' => ['alpha-p-1'], 'event' => 'request-a-1']);
    $events = array_column(queued(), 'event');
    sort($events);
    check('both queued', $events === ['request-a-1', 'request-b-1'], json_encode($events));
    check('each its own row', count(preg_grep('/^' . RetryQueue::PREFIX . '/', array_keys($GLOBALS['shim']['options']))) === 2);
});

test('regression: two requests draining at once send each purge once (a shared option sent it from both)', function () use ($config) {
    $down = 0;
    $sent = [];
    $q = counting($config, $sent, $down);
    foreach (['e-one-0001', 'e-two-0002', 'e-three-03'] as $e) {
        $q->send(['site' => 'alpha', 'all' => false, 'tags' => ['alpha-p-1'], 'event' => $e]);
    }
    $sent = [];
    $up = 202;
    // B drains everything between A's listing and A's first claim; A then finds nothing to claim.
    $GLOBALS['shim']['before_write'] = function () use ($config, &$sent, &$up) {
        counting($config, $sent, $up)->retryQueued();
    };
    $left = counting($config, $sent, $up)->retryQueued();
    check('each sent once', $sent === ['e-one-0001' => 1, 'e-two-0002' => 1, 'e-three-03' => 1], json_encode($sent));
    check('none left', $left === 0 && queued() === [], json_encode(queued()));
});

test('a purge another request is sending is left to it; one whose sender died is sent once its lease runs out, same event', function () use ($config) {
    $now = 1_800_000_000;
    $clock = function () use (&$now) {
        return $now;
    };
    $sent = [];
    $status = 0;
    counting($config, $sent, $status, $clock)->send(['site' => 'alpha', 'tags' => ['alpha-p-1'], 'event' => 'dead-sender-1']);
    $store = new RetryQueue();
    check('claimed', $store->claim($store->jobs(10)[0], $now) !== null); // a request claims it, then dies
    $sent = [];
    $status = 202;
    $client = counting($config, $sent, $status, $clock);
    check('while the claim holds: not sent, still queued', $client->retryQueued() === 1 && $sent === [], json_encode($sent));
    check('retry scheduled meanwhile', is_int(wp_next_scheduled(Client::RETRY_SOON)));
    $now += RetryQueue::LEASE + 1;
    check('after the lease: sent with its event, gone', $client->retryQueued() === 0 && $sent === ['dead-sender-1' => 1], json_encode($sent));
});

test('a failed resend puts the purge back (same event, unclaimed) and stops: later ones wait, in order', function () use ($config) {
    $sent = [];
    $status = 0;
    $c = counting($config, $sent, $status);
    foreach (['order-first-1', 'order-second', 'order-third1'] as $e) {
        $c->send(['site' => 'alpha', 'tags' => ['alpha-p-1'], 'event' => $e]);
    }
    $sent = [];
    $status = 503;
    check('three left', $c->retryQueued() === 3);
    check('only the oldest tried', $sent === ['order-first-1' => 1], json_encode($sent));
    $jobs = (new RetryQueue())->jobs(10);
    check('back in the queue unclaimed, in order', array_column($jobs, 'lease') === [0, 0, 0]
        && array_column(array_column($jobs, 'purge'), 'event') === ['order-first-1', 'order-second', 'order-third1'], json_encode($jobs));
    check('logged', str_contains(logged(), 'purger still unavailable (HTTP 503); 3 purge(s) queued'), logged());
    $sent = [];
    $status = 202;
    check('then all, oldest first', $c->retryQueued() === 0 && array_keys($sent) === ['order-first-1', 'order-second', 'order-third1'], json_encode($sent));
});

test('a site-wide purge being sent covers no later change; a queued one does', function () use ($config) {
    $sent = [];
    $status = 0;
    $c = counting($config, $sent, $status);
    $c->send(['site' => 'alpha', 'all' => true, 'event' => 'site-wide-01']);
    $c->send(['site' => 'alpha', 'tags' => ['alpha-p-1'], 'event' => 'covered-001']);
    check('covered by the queued site-wide purge', array_column(queued(), 'event') === ['site-wide-01'], json_encode(queued()));
    check('logged as covered', str_contains(logged(), 'covered by the queued site-wide purge (event site-wide-01)'), logged());
    $store = new RetryQueue();
    $store->claim($store->jobs(10)[0], time()); // on the wire now: it may reach the caches before this change
    $c->send(['site' => 'alpha', 'tags' => ['alpha-p-2'], 'event' => 'after-send1']);
    check('queued itself', array_column(queued(), 'event') === ['site-wide-01', 'after-send1'], json_encode(queued()));
});

test('the bound: past maxQueued, one site-wide purge replaces the purges queued before it, not those queued meanwhile', function () {
    $config = new Config('alpha', 'http://x', 's', 3, 1.0, 3);
    $sent = [];
    $status = 0;
    $c = counting($config, $sent, $status);
    foreach (['bound-one-1', 'bound-two-2', 'bound-three'] as $e) {
        $c->send(['site' => 'alpha', 'tags' => ['alpha-p-1'], 'event' => $e]);
    }
    // Another request queues while this one collapses the queue (after its listing).
    $GLOBALS['shim']['before_write'] = fn () => (new RetryQueue())->add(['site' => 'alpha', 'tags' => ['alpha-p-9'], 'event' => 'meanwhile-1'], time());
    $c->send(['site' => 'alpha', 'tags' => ['alpha-p-4'], 'event' => 'bound-four4']);
    $q = queued();
    check('the one queued meanwhile is kept', in_array('meanwhile-1', array_column($q, 'event'), true), json_encode($q));
    $all = array_values(array_filter($q, fn ($p) => ($p['all'] ?? false) === true));
    check('one site-wide purge', count($all) === 1 && count($q) === 2, json_encode($q));
    check('logged', str_contains(logged(), '4 purges collapsed into one site-wide purge (event ' . ($all[0]['event'] ?? '?') . ')'), logged());
});

test('migration: a queue left in the single option of earlier versions becomes one row per purge, once, nothing lost', function () use ($config) {
    update_option(RetryQueue::LEGACY_OPTION, ['since' => 1_700_000_000, 'items' => [
        ['site' => 'alpha', 'tags' => ['alpha-p-1'], 'event' => 'legacy-one-1'],
        ['site' => 'alpha', 'urls' => ['https://alpha.farm.test/x/']], // the oldest format: no event
    ]], false);
    $sent = [];
    $status = 0;
    $c = counting($config, $sent, $status);
    check('nothing delivered while down', $c->retryQueued() === 2 && $sent === ['legacy-one-1' => 1], json_encode($sent));
    check('the option is gone', get_option(RetryQueue::LEGACY_OPTION, 'absent') === 'absent');
    $jobs = (new RetryQueue())->jobs(10);
    check('in order, with its since', array_column($jobs, 'since') === [1_700_000_000, 1_700_000_000]
        && ($jobs[0]['purge']['event'] ?? '') === 'legacy-one-1', json_encode($jobs));
    check('an event for the one without', preg_match('/^[A-Za-z0-9_-]{8,64}$/', (string) ($jobs[1]['purge']['event'] ?? '')) === 1, json_encode($jobs[1] ?? null));
    check('logged', str_contains(logged(), 'moved 2 queued purge(s) from the option farm_cache_purge_retry'), logged());
    $status = 202;
    check('delivered after', $c->retryQueued() === 0 && count($sent) === 2, json_encode($sent));
    // The version before event ids: a plain list; an empty queue was saved as [].
    update_option(RetryQueue::LEGACY_OPTION, [], false);
    check('an empty one is just removed', (new RetryQueue())->migrateLegacy(time()) === 0 && get_option(RetryQueue::LEGACY_OPTION, 'absent') === 'absent');
});

test('migration race: the option changed meanwhile (another request, an older node) is moved on the next run, not lost or doubled', function () use ($config) {
    update_option(RetryQueue::LEGACY_OPTION, [['site' => 'alpha', 'all' => true]], false);
    $GLOBALS['shim']['before_write'] = fn () => update_option(RetryQueue::LEGACY_OPTION, [['site' => 'alpha', 'all' => true], ['site' => 'alpha', 'tags' => ['alpha-p-3']]], false);
    $store = new RetryQueue();
    check('lost the race: took its rows back', $store->migrateLegacy(time()) === 0 && queued() === [], json_encode(queued()));
    check('moved next time', $store->migrateLegacy(time()) === 2 && count(queued()) === 2, json_encode(queued()));
    $sent = [];
    counting($config, $sent)->retryQueued();
    check('each sent once', count($sent) === 2 && max($sent) === 1, json_encode($sent));
});

test('an unreadable queue row is dropped and logged, not a blocked queue', function () use ($config) {
    $GLOBALS['shim']['options'][RetryQueue::PREFIX . '0000000000000001_bad'] = 'not json';
    $sent = [];
    check('nothing left', counting($config, $sent)->retryQueued() === 0 && queued() === []);
    check('logged', str_contains(logged(), 'dropped an unreadable queue row'), logged());
});

test('regression: a due retry runs from any request that reaches PHP, when WP-cron\'s loopback never comes', function () use ($config, $post) {
    $status = 0;
    $bodies = [];
    $p = capture($config, $bodies, $status);
    $post();
    do_action('save_post', 12);
    do_action('shutdown'); // purger down: queued, retry scheduled
    $status = 202;
    do_action('shutdown'); // a page load before the retry is due: nothing
    check('not before it is due', count($bodies) === 1 && count(queued()) === 1);
    $GLOBALS['shim']['scheduled'][Client::RETRY_SOON] = time() - 1; // the retry is now due
    do_action('shutdown'); // a visitor's page load, no edit
    check('delivered by a page load', count($bodies) === 2 && queued() === [], json_encode(queued()));
    check('same event as the first attempt', ($bodies[0]['event'] ?? 'a') === ($bodies[1]['event'] ?? 'b'));
    check('nothing left scheduled', wp_next_scheduled(Client::RETRY_SOON) === false);
});

test('backoff: 10 s after a blip, half the outage so far, never over 50 s', function () {
    foreach ([[0, 10], [5, 10], [30, 15], [80, 40], [100, 50], [86400, 50], [-5, 10]] as [$age, $want]) {
        check("backoff($age)", Client::backoff($age) === $want, (string) Client::backoff($age));
    }
});

test('distinct changes get distinct event ids; an event already set is kept', function () use ($config) {
    $bodies = [];
    $client = new Client($config, function ($u, $h, $b) use (&$bodies) {
        $bodies[] = json_decode($b, true);
        return 202;
    });
    $client->send(['site' => 'alpha', 'all' => true]);
    $client->send(['site' => 'alpha', 'all' => true]);
    $client->send(['site' => 'alpha', 'all' => true, 'event' => 'fixed-event-1']);
    check('distinct', $bodies[0]['event'] !== $bodies[1]['event']);
    check('kept', $bodies[2]['event'] === 'fixed-event-1');
});

test('nothing is sent while WordPress installs', function () use ($config) {
    $bodies = [];
    capture($config, $bodies);
    $GLOBALS['shim']['installing'] = true;
    do_action('added_option', 'blogname', 'x');
    do_action('shutdown');
    check('nothing', $bodies === [] && queued() === [], json_encode($bodies));
});

echo "$count checks, $failures failed\n";
exit($failures === 0 ? 0 : 1);
