<?php
/**
 * Installs and seeds one farm site's WordPress (Debian's WordPress, no wp-cli in Debian 12).
 *   FARM_WP_SITE=<id> FARM_WP_SEEDING=1 php seed.php install <core dir> <host> <title>  (admin password on stdin)
 *   FARM_WP_SITE=<id> FARM_WP_SEEDING=1 php seed.php seed <core dir> <host>   → JSON on stdout
 * Two processes because wp_install() needs WP_INSTALLING, which would then change how the
 * seeding's own calls behave (options not cached, no rewrite rules). FARM_WP_SEEDING keeps the
 * mu-plugin out: the purger does not run yet, and a fresh site has nothing cached to purge.
 * The seeding runs in one transaction: on Galera every autocommit write waits for the cluster's
 * certification, which made a 50-post seed take tens of seconds instead of one.
 */

declare(strict_types=1);

[$self, $mode, $core, $host] = array_pad($argv, 4, '');
$_SERVER['HTTP_HOST'] = $host;
$_SERVER['SERVER_NAME'] = $host;
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PORT'] = '80';

if ($mode === 'install') {
    define('WP_INSTALLING', true);
    require $core . '/wp-load.php';
    require_once ABSPATH . 'wp-admin/includes/upgrade.php';
    $title = $argv[4];
    $password = trim((string) fgets(STDIN)); // on stdin: a password never goes in argv
    if (is_blog_installed()) {
        exit(0);
    }
    $result = wp_install($title, 'admin', "admin@{$host}", true, '', wp_slash($password));
    update_option('siteurl', "http://{$host}");
    update_option('home', "http://{$host}");
    fwrite(STDERR, "installed {$host} (user {$result['user_id']})\n");
    exit(0);
}

if ($mode !== 'seed') {
    fwrite(STDERR, "usage: seed.php install|seed <core dir> <host> ...\n");
    exit(2);
}

require $core . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/taxonomy.php';
require_once ABSPATH . 'wp-admin/includes/nav-menu.php';
global $wpdb, $wp_rewrite;

if (get_option('farm_seeded')) {
    fwrite(STDERR, "{$host} already seeded\n");
}

mt_srand(crc32($host)); // the same content for the same site on every run
$wpdb->query('START TRANSACTION');
wp_defer_term_counting(true);
wp_defer_comment_counting(true);

switch_theme('twentytwentyone');
update_option('permalink_structure', '/%year%/%monthnum%/%postname%/');
update_option('blogdescription', 'A farm site seeded with realistic content');
update_option('posts_per_page', 10);
update_option('comment_moderation', 0);
update_option('comment_previously_approved', 0);
wp_update_user(['ID' => 1, 'display_name' => 'Farm Admin', 'first_name' => 'Farm', 'last_name' => 'Admin']);

$editor = username_exists('jane') ?: wp_insert_user([
    'user_login' => 'jane',
    'user_pass' => wp_generate_password(24),
    'user_email' => "jane@{$host}",
    'display_name' => 'Jane Writer',
    'role' => 'editor',
]);

$categories = [];
foreach (['News', 'Guides', 'Reviews', 'Opinion', 'Events'] as $name) {
    $categories[] = (int) wp_create_category($name);
}
$tagNames = ['wordpress', 'performance', 'caching', 'security', 'php', 'design', 'seo', 'hosting', 'tips', 'community'];

$words = explode(' ', 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore'
    . ' et dolore magna aliqua varnish edge cache purge site farm visitor page post archive feed theme widget');
$sentence = static function (int $n) use ($words): string {
    $out = [];
    for ($i = 0; $i < $n; $i++) {
        $out[] = $words[mt_rand(0, count($words) - 1)];
    }
    return ucfirst(implode(' ', $out)) . '.';
};
$paragraph = static fn (): string => implode(' ', array_map(static fn () => $sentence(mt_rand(8, 16)), range(1, mt_rand(3, 6))));

$posts = [];
$now = time();
for ($i = 1; $i <= 50; $i++) {
    $when = $now - (51 - $i) * 6 * 86400 - mt_rand(0, 80000); // spread over about ten months
    $cats = array_values(array_unique([$categories[$i % 5], $categories[mt_rand(0, 4)]]));
    $tags = array_values(array_unique([$tagNames[$i % 10], $tagNames[mt_rand(0, 9)], $tagNames[mt_rand(0, 9)]]));
    $body = '';
    for ($p = 0; $p < 5; $p++) {
        $body .= "<!-- wp:paragraph -->\n<p>" . $paragraph() . "</p>\n<!-- /wp:paragraph -->\n\n";
    }
    $posts[] = (int) wp_insert_post([
        'post_title' => "Seeded post {$i}: " . rtrim($sentence(mt_rand(3, 6)), '.'),
        'post_content' => $body,
        'post_excerpt' => $sentence(12),
        'post_status' => 'publish',
        'post_author' => $i % 2 === 0 ? (int) $editor : 1,
        'post_date' => gmdate('Y-m-d H:i:s', $when),
        'post_date_gmt' => gmdate('Y-m-d H:i:s', $when),
        'post_category' => $cats,
        'tags_input' => $tags,
    ], true);
}

$pages = [];
foreach (['About' => 'Who writes here and why.', 'Contact' => 'Write to us.', 'Archive' => 'Everything we wrote.'] as $title => $text) {
    $pages[$title] = (int) wp_insert_post([
        'post_type' => 'page',
        'post_title' => $title,
        'post_content' => "<!-- wp:paragraph -->\n<p>{$text} " . $paragraph() . "</p>\n<!-- /wp:paragraph -->",
        'post_status' => 'publish',
    ]);
}

$menuId = wp_create_nav_menu('Primary');
if (!is_wp_error($menuId)) {
    wp_update_nav_menu_item($menuId, 0, [
        'menu-item-title' => 'Home', 'menu-item-url' => home_url('/'), 'menu-item-status' => 'publish', 'menu-item-type' => 'custom',
    ]);
    foreach ($pages as $id) {
        wp_update_nav_menu_item($menuId, 0, [
            'menu-item-object-id' => $id, 'menu-item-object' => 'page', 'menu-item-type' => 'post_type', 'menu-item-status' => 'publish',
        ]);
    }
    foreach (array_slice($categories, 0, 3) as $id) {
        wp_update_nav_menu_item($menuId, 0, [
            'menu-item-object-id' => $id, 'menu-item-object' => 'category', 'menu-item-type' => 'taxonomy', 'menu-item-status' => 'publish',
        ]);
    }
    set_theme_mod('nav_menu_locations', ['primary' => $menuId, 'footer' => $menuId]);
}

$names = ['Ada', 'Linus', 'Grace', 'Ken', 'Barbara', 'Dennis'];
foreach (array_slice($posts, -20) as $k => $postId) {
    for ($c = 0; $c < 1 + $k % 3; $c++) {
        $name = $names[($k + $c) % count($names)];
        wp_insert_comment([
            'comment_post_ID' => $postId,
            'comment_author' => $name,
            'comment_author_email' => strtolower($name) . '@example.test',
            'comment_content' => $sentence(mt_rand(8, 20)),
            'comment_approved' => $c === 2 ? 0 : 1, // some held for moderation
        ]);
    }
}

wp_defer_term_counting(false);
wp_defer_comment_counting(false);
update_option('farm_seeded', gmdate('c'));
$wpdb->query('COMMIT');
$wp_rewrite->init();
$wp_rewrite->flush_rules(false);

// An application password for the REST API (available because WP_ENVIRONMENT_TYPE is local).
$app = WP_Application_Passwords::create_new_application_password(1, ['name' => 'farm ' . gmdate('c')]);
echo json_encode([
    'appPassword' => is_wp_error($app) ? '' : $app[0],
    'posts' => count($posts),
    'pages' => count($pages),
    'categories' => $categories,
    'menu' => is_wp_error($menuId) ? 0 : $menuId,
]), "\n";
