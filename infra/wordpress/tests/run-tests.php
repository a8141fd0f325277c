<?php
/**
 * Tests of the mu-plugin's logic under php-cli, against the WordPress shims in wp-shims.php.
 * Run: php infra/wordpress/tests/run-tests.php   (exit code 0 = all passed). The vitest suite in
 * cache-purger/test/mu-plugin.test.ts runs it, and the real-purger test next to it.
 */

declare(strict_types=1);

require __DIR__ . '/wp-shims.php';
$plugin = __DIR__ . '/../mu-plugins/farm-cache-purge';
foreach (['Config', 'Signer', 'UrlSet', 'Tags', 'Client', 'Plugin'] as $f) {
    require_once "$plugin/$f.php";
}

use FarmCachePurge\Client;
use FarmCachePurge\Config;
use FarmCachePurge\Plugin;
use FarmCachePurge\Signer;
use FarmCachePurge\Tags;
use FarmCachePurge\UrlSet;

$failures = 0;
$count = 0;
function check(string $name, bool $ok, string $detail = ''): void
{
    global $failures, $count;
    $count++;
    if (!$ok) {
        $failures++;
        fwrite(STDERR, "FAIL $name" . ($detail ? ": $detail" : '') . "\n");
    }
}
function test(string $name, callable $fn): void
{
    shim_reset();
    try {
        $fn();
    } catch (Throwable $e) {
        check($name, false, get_class($e) . ': ' . $e->getMessage());
    }
}
$config = new Config('alpha', 'http://purger.invalid', 'alpha-secret');
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
    check('xkey', $h['xkey'] === 'alpha-home alpha-p-12 alpha-p-14', $h['xkey']);
    check('Cache-Tag', $h['Cache-Tag'] === 'alpha-home,alpha-p-12,alpha-p-14', $h['Cache-Tag']);
    shim_query('single', 12, [12]);
    check('single', Tags::forCurrentPage() === ['p-12']);
    shim_query('category', 3, [12]);
    check('category', Tags::forCurrentPage() === ['t-3', 'p-12']);
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
    do_action('comment_post', 99);
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
    check('site-wide', $bodies === [['site' => 'alpha', 'all' => true]], json_encode($bodies));
});

test('purger unreachable or 503: queued in an option, resent (signed afresh) once it answers', function () use ($config, $post) {
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
    check('queued after a failure', count(get_option(Client::OPTION)) === 1);
    $status = 503;
    do_action('trashed_post', 12);
    do_action('shutdown');
    check('still queued on 503, both kept', count(get_option(Client::OPTION)) === 2);
    $status = 202;
    do_action('save_post', 12);
    do_action('shutdown');
    check('queue drained after a 202', get_option(Client::OPTION) === []);
    check('retries carry the queued bodies', $seen[0][1] === end($seen)[1] || in_array($seen[0][1], array_column($seen, 1), true));
    check('every send has its own nonce', count(array_unique(array_column($seen, 0))) === count($seen));
});

test('a 4xx is not retried (the request itself is wrong)', function () use ($config, $post) {
    ini_set('error_log', '/dev/null'); // the drop is logged; keep the test output clean
    $client = new Client($config, fn () => 403);
    check('status', $client->send(['site' => 'alpha', 'all' => true]) === 403);
    check('not queued', get_option(Client::OPTION, []) === []);
});

test('the retry queue is bounded: overflow collapses into one site-wide purge', function () use ($config) {
    $client = new Client(new Config('alpha', 'http://x', 's', 3, 1.0, 3), fn () => 0);
    for ($i = 0; $i < 5; $i++) {
        $client->send(['site' => 'alpha', 'tags' => ["alpha-p-$i"]]);
    }
    $q = get_option(Client::OPTION);
    check('bounded', count($q) <= 3, json_encode($q));
    check('covers everything', in_array(['site' => 'alpha', 'all' => true], $q, true), json_encode($q));
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

echo "$count checks, $failures failed\n";
exit($failures === 0 ? 0 : 1);
