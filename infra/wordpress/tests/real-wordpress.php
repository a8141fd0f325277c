<?php
/**
 * Runs one action on a REAL WordPress (Debian's `wordpress` package, /usr/share/wordpress) with the
 * repository's mu-plugin loaded from WPMU_PLUGIN_DIR (as the farm's image loads it), under php-cli:
 * each run is one WordPress request, so the plugin sends at most one webhook, at shutdown.
 *
 *   php real-wordpress.php <action> [id]       prints one JSON line (the action's result)
 *
 * Configured the way a stock php-fpm pool must be (clear_env = yes): the plugin's settings are
 * constants and the secret is a file; the caller runs this with an otherwise empty environment.
 * Env (read here only, to define the constants): WPT_DB_SOCKET, WPT_DB_NAME, WPT_SITE_ID,
 * WPT_PURGER_URL, WPT_SECRET_FILE (empty: no secret), WPT_START_AT (optional, see below). The
 * plugin's log goes to stderr.
 *
 * Driven by cache-purger/test/mu-plugin.test.ts against a real mariadbd and a real purger.
 */

declare(strict_types=1);

// Constants, not variables: wp-settings.php runs in this scope and reuses names like $action.
define('WPT_ACTION', (string) ($argv[1] ?? ''));
define('WPT_ID', (int) ($argv[2] ?? 0));
$env = static fn (string $n): string => (string) getenv($n);

$_SERVER['HTTP_HOST'] = 'alpha.farm.test';
$_SERVER['SERVER_NAME'] = 'alpha.farm.test';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['HTTPS'] = 'on';
$_SERVER['REMOTE_ADDR'] = '192.0.2.' . random_int(1, 254);

define('DB_NAME', $env('WPT_DB_NAME'));
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', 'localhost:' . $env('WPT_DB_SOCKET'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = 'wp_';
define('ABSPATH', '/usr/share/wordpress/');
define('WP_CONTENT_DIR', '/usr/share/wordpress/wp-content');
define('WPMU_PLUGIN_DIR', dirname(__DIR__) . '/mu-plugins');
define('WP_HOME', 'https://alpha.farm.test');
define('WP_SITEURL', 'https://alpha.farm.test');
define('WP_DEFAULT_THEME', 'twentytwentyone');
define('DISABLE_WP_CRON', true); // no loopback request from php-cli; the test runs due events itself
define('WP_DEBUG', true);        // any notice from the plugin shows on stderr
define('WP_DEBUG_DISPLAY', false);
define('WP_DEBUG_LOG', false);
define('AUTH_KEY', 'test');
define('SECURE_AUTH_KEY', 'test');
define('LOGGED_IN_KEY', 'test');
define('NONCE_KEY', 'test');
define('AUTH_SALT', 'test');
define('SECURE_AUTH_SALT', 'test');
define('LOGGED_IN_SALT', 'test');
define('NONCE_SALT', 'test');

define('FARM_SITE_ID', $env('WPT_SITE_ID'));
define('FARM_PURGER_URL', $env('WPT_PURGER_URL'));
if ($env('WPT_SECRET_FILE') !== '') {
    define('FARM_PURGE_SECRET_FILE', $env('WPT_SECRET_FILE'));
}
if (WPT_ACTION === 'install') {
    define('WP_INSTALLING', true);
}

require ABSPATH . 'wp-settings.php';

// WPT_START_AT (ms since the epoch): wait, WordPress loaded, until then, so that concurrent runs
// do their action at the same moment rather than one WordPress boot apart.
$startAt = (int) $env('WPT_START_AT');
while ($startAt > 0 && ($wait = $startAt - (int) floor(microtime(true) * 1000)) > 0) {
    usleep(min($wait, 50) * 1000);
}

/** One WordPress front-end request for $query, rendered far enough for the plugin's tags. */
function page_tags(array $query): array
{
    $GLOBALS['wp']->main($query);
    return FarmCachePurge\Tags::forCurrentPage();
}

$out = [];
switch (WPT_ACTION) {
    case 'install':
        require_once ABSPATH . 'wp-admin/includes/upgrade.php';
        $r = wp_install('Alpha', 'admin', 'admin@alpha.farm.test', true, '', 'admin-password-for-tests');
        $cron = get_option('cron');
        $out = ['user' => $r['user_id'], 'retryScheduled' => is_array($cron) && str_contains(serialize($cron), 'farm_cache_purge_retry')];
        break;
    case 'seed':
        global $wp_rewrite;
        $wp_rewrite->set_permalink_structure('/%postname%/');
        $cat = wp_insert_term('News', 'category', ['slug' => 'news']);
        $writer = wp_insert_user(['user_login' => 'writer', 'user_pass' => 'writer-password', 'display_name' => 'Writer One', 'role' => 'author']);
        $post = wp_insert_post(['post_title' => 'Hello farm', 'post_name' => 'hello-farm', 'post_status' => 'publish',
            'post_author' => $writer, 'post_category' => [$cat['term_id']], 'tags_input' => ['php'], 'post_content' => 'Body']);
        $other = wp_insert_post(['post_title' => 'Other', 'post_name' => 'other', 'post_status' => 'publish',
            'post_author' => $writer, 'post_category' => [$cat['term_id']], 'post_content' => 'Body']);
        $out = ['cat' => $cat['term_id'], 'writer' => $writer, 'post' => $post, 'other' => $other];
        break;
    case 'single-tags':
        $out = ['tags' => page_tags(['p' => WPT_ID])];
        break;
    case 'home-tags':
        $out = ['tags' => page_tags([])];
        break;
    case 'edit-post':
        wp_update_post(['ID' => WPT_ID, 'post_content' => 'Edited ' . microtime(true)]);
        break;
    case 'rename-term':
        wp_update_term(WPT_ID, 'category', ['name' => 'World', 'slug' => 'world']);
        break;
    case 'held-comment':
        // Through the comment form's path (wp_new_comment → comment_post): a first-time commenter
        // is held for moderation by WordPress's defaults.
        $n = bin2hex(random_bytes(4));
        $c = wp_new_comment(['comment_post_ID' => WPT_ID, 'comment_content' => "A comment $n", 'comment_author' => "Visitor $n",
            'comment_author_email' => "visitor-$n@example.com", 'comment_author_url' => '', 'comment_type' => 'comment'], true);
        $out = ['comment' => is_wp_error($c) ? $c->get_error_message() : $c, 'approved' => is_wp_error($c) ? null : get_comment($c)->comment_approved];
        break;
    case 'spam-comment':
        wp_spam_comment(WPT_ID);
        break;
    case 'trash-comment':
        wp_trash_comment(WPT_ID);
        break;
    case 'approve-comment':
        wp_set_comment_status(WPT_ID, 'approve');
        break;
    case 'trash-post':
        wp_trash_post(WPT_ID);
        break;
    case 'site-title':
        update_option('blogname', 'Alpha renamed');
        break;
    case 'display-name':
        wp_update_user(['ID' => WPT_ID, 'display_name' => 'Writer Renamed']);
        break;
    case 'schedule-post':
        $out = ['post' => wp_insert_post(['post_title' => 'Scheduled', 'post_name' => 'scheduled', 'post_status' => 'future',
            'post_date' => gmdate('Y-m-d H:i:s', time() + 3600), 'post_content' => 'Later'])];
        break;
    case 'publish-due':
        // What WP-cron's publish_future_post event does when the date comes.
        wp_publish_post(WPT_ID);
        break;
    case 'menu':
        $menu = wp_create_nav_menu('Main ' . bin2hex(random_bytes(3)));
        $out = ['item' => wp_update_nav_menu_item($menu, 0, ['menu-item-title' => 'Home', 'menu-item-url' => home_url('/'), 'menu-item-status' => 'publish'])];
        break;
    case 'widget':
        update_option('widget_text', [2 => ['title' => 'Hello', 'text' => 'Widget ' . microtime(true)], '_multiwidget' => 1]);
        break;
    case 'permalinks':
        global $wp_rewrite;
        $wp_rewrite->set_permalink_structure('/%year%/%postname%/');
        break;
    case 'admin-notice':
        // An administrator's admin page (user 1), then a subscriber's: what admin_notices prints.
        $notice = static function (int $user): string {
            wp_set_current_user($user);
            ob_start();
            do_action('admin_notices');
            return (string) ob_get_clean();
        };
        $subscriber = wp_insert_user(['user_login' => 'sub' . bin2hex(random_bytes(3)), 'user_pass' => 'subscriber-password', 'role' => 'subscriber']);
        $out = ['admin' => $notice(1), 'subscriber' => $notice($subscriber)];
        break;
    case 'age-retry':
        // The short retry, moved to now: what the passing of its delay does. This request only
        // moves the clock; the plugin's shutdown (which would run the due retry) is taken off.
        remove_all_actions('shutdown');
        $next = wp_next_scheduled(FarmCachePurge\Client::RETRY_SOON);
        $out['retryIn'] = $next === false ? null : $next - time();
        if ($next !== false) {
            wp_unschedule_event($next, FarmCachePurge\Client::RETRY_SOON);
            wp_schedule_single_event(time() - 1, FarmCachePurge\Client::RETRY_SOON);
        }
        break;
    case 'queue':
        $out = ['queued' => count((new FarmCachePurge\RetryQueue())->jobs(1000)), 'retry' => wp_next_scheduled(FarmCachePurge\Client::RETRY_SOON)];
        break;
    default:
        fwrite(STDERR, "unknown action " . WPT_ACTION . "\n");
        exit(2);
}
echo json_encode($out), "\n";
