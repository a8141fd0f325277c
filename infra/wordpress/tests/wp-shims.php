<?php
/**
 * WORDPRESS SHIMS FOR TESTS ONLY. WordPress is not installed on this machine (php-fpm and the
 * wordpress package are absent), so these minimal stand-ins of WordPress functions and classes
 * let the plugin's logic run under php-cli. They model one site, alpha.farm.test, with pretty
 * permalinks (/%postname%/), a category and a tag, and an in-memory options table and hook table.
 * They are not WordPress: each shim does only what the tests need.
 */

declare(strict_types=1);

define('ABSPATH', __DIR__ . '/');

final class WP_Post
{
    public int $ID = 0;
    public string $post_type = 'post';
    public string $post_status = 'publish';
    public string $post_name = '';
    public string $post_title = '';
    public string $post_content = '';
    public int $post_parent = 0;
    public int $menu_order = 0;
    public string $post_author = '2';
    public string $post_date = '2026-11-20 10:00:00';
    public string $post_date_gmt = '2026-11-20 09:00:00';
    public function __construct(array $f = [])
    {
        foreach ($f as $k => $v) {
            $this->$k = $v;
        }
    }
}
final class WP_Term
{
    public function __construct(public int $term_id, public string $taxonomy, public string $slug)
    {
    }
}
final class WP_Comment
{
    public function __construct(public string $comment_ID, public string $comment_post_ID, public string $comment_approved = '1')
    {
    }
}
final class WP_User
{
    public function __construct(public int $ID, public string $display_name, public string $user_nicename)
    {
    }
}

$GLOBALS['shim'] = [
    'home' => 'https://alpha.farm.test',
    'posts' => [],
    'terms' => ['category' => [3 => 'news'], 'post_tag' => [7 => 'php']],
    'post_terms' => [],
    'options' => [],
    'hooks' => [],
    'comments' => [],
    'revisions' => [],
    'query' => [],
    'headers' => [],
    'users' => [],
    'menu_items' => [],
    'block_theme' => false,
    'can' => false,
    'now' => null,
];
function shim_reset(): void
{
    $GLOBALS['shim']['posts'] = [];
    $GLOBALS['shim']['post_terms'] = [];
    $GLOBALS['shim']['options'] = ['permalink_structure' => '/%postname%/'];
    $GLOBALS['shim']['terms'] = ['category' => [3 => 'news'], 'post_tag' => [7 => 'php']];
    $GLOBALS['shim']['users'] = [2 => new WP_User(2, 'User Two', 'user2')];
    $GLOBALS['shim']['menu_items'] = [];
    $GLOBALS['shim']['block_theme'] = false;
    $GLOBALS['shim']['can'] = false;
    $GLOBALS['shim']['now'] = null;
    $GLOBALS['shim']['hooks'] = [];
    $GLOBALS['shim']['scheduled'] = [];
    $GLOBALS['shim']['installing'] = false;
    $GLOBALS['shim']['comments'] = [];
    $GLOBALS['shim']['revisions'] = [];
    $GLOBALS['shim']['query'] = [];
    $GLOBALS['shim']['before_write'] = null;
    $GLOBALS['wpdb'] = new ShimWpdb();
}
function shim_add_post(WP_Post $p, array $terms = []): WP_Post
{
    $GLOBALS['shim']['posts'][$p->ID] = $p;
    $GLOBALS['shim']['post_terms'][$p->ID] = $terms;
    return $p;
}

// Hooks.
function add_action(string $hook, callable $cb, int $prio = 10, int $args = 1): void
{
    $GLOBALS['shim']['hooks'][$hook][] = [$cb, $args];
}
function do_action(string $hook, mixed ...$a): void
{
    foreach ($GLOBALS['shim']['hooks'][$hook] ?? [] as [$cb, $n]) {
        $cb(...array_slice($a, 0, $n));
    }
}
function apply_filters(string $hook, mixed $v, mixed ...$a): mixed
{
    return $v;
}
function wp_next_scheduled(string $hook): int|false
{
    return $GLOBALS['shim']['scheduled'][$hook] ?? false;
}
function wp_schedule_event(int $t, string $r, string $hook): void
{
    $GLOBALS['shim']['scheduled'][$hook] = $t;
}
function wp_schedule_single_event(int $t, string $hook): bool
{
    $GLOBALS['shim']['scheduled'][$hook] = $t;
    return true;
}
function wp_unschedule_event(int $t, string $hook): bool
{
    if (($GLOBALS['shim']['scheduled'][$hook] ?? null) !== $t) {
        return false;
    }
    unset($GLOBALS['shim']['scheduled'][$hook]);
    return true;
}
function wp_clear_scheduled_hook(string $hook): int
{
    $had = isset($GLOBALS['shim']['scheduled'][$hook]);
    unset($GLOBALS['shim']['scheduled'][$hook]);
    return $had ? 1 : 0;
}
/** What WP-cron does when an event is due: unschedule it, then run its hook. */
function shim_run_cron(string $hook): void
{
    unset($GLOBALS['shim']['scheduled'][$hook]);
    do_action($hook);
}
function wp_installing(): bool
{
    return $GLOBALS['shim']['installing'] ?? false;
}

// Options.
function get_option(string $name, mixed $default = false): mixed
{
    return $GLOBALS['shim']['options'][$name] ?? $default;
}
function update_option(string $name, mixed $value, bool|null $autoload = null): bool
{
    $GLOBALS['shim']['options'][$name] = $value;
    return true;
}

function maybe_serialize(mixed $v): mixed
{
    return is_array($v) || is_object($v) ? serialize($v) : $v;
}

/**
 * $wpdb over the same in-memory options table, with the return values of WordPress's wpdb on
 * MySQL: insert() 1, or false on a duplicate name (a key error); update() and delete() the rows
 * they changed (0 when the WHERE matched nothing, or the value was already the new one). It
 * answers one SELECT, the queue's prefix listing. `$GLOBALS['shim']['before_write']`, when set, is
 * called before each write: a test stands another request there, between a read and a write.
 */
final class ShimWpdb
{
    public string $options = 'wp_options';
    public string $last_error = '';
    public array $writes = [];

    public function prepare(string $sql, mixed ...$args): string
    {
        return preg_replace_callback('/%[sd]/', function ($m) use (&$args) {
            $v = array_shift($args);
            return $m[0] === '%d' ? (string) (int) $v : "'" . addslashes((string) $v) . "'";
        }, $sql);
    }

    public function esc_like(string $s): string
    {
        return addcslashes($s, '_%\\');
    }

    public function get_results(string $sql, string $output = 'OBJECT'): array
    {
        if (!preg_match("/^SELECT option_name, option_value FROM wp_options WHERE option_name LIKE '((?:[^'\\\\]|\\\\.)*)%' ORDER BY option_name LIMIT (\\d+)$/", $sql, $m)) {
            throw new LogicException("ShimWpdb answers the queue's listing only, not: $sql");
        }
        $prefix = stripslashes(stripcslashes($m[1]));
        $names = array_filter(array_keys($GLOBALS['shim']['options']), fn ($n) => str_starts_with((string) $n, $prefix));
        sort($names, SORT_STRING);
        $rows = [];
        foreach (array_slice($names, 0, (int) $m[2]) as $n) {
            $rows[] = ['option_name' => $n, 'option_value' => self::stored($n)];
        }
        return $rows;
    }

    public function insert(string $table, array $data): int|false
    {
        $this->before('insert', $data['option_name']);
        if (array_key_exists($data['option_name'], $GLOBALS['shim']['options'])) {
            $this->last_error = "Duplicate entry '{$data['option_name']}' for key 'option_name'";
            return false;
        }
        $GLOBALS['shim']['options'][$data['option_name']] = (string) $data['option_value'];
        return 1;
    }

    public function update(string $table, array $data, array $where): int
    {
        $this->before('update', $where['option_name']);
        if (!$this->matches($where) || self::stored($where['option_name']) === (string) $data['option_value']) {
            return 0;
        }
        $GLOBALS['shim']['options'][$where['option_name']] = (string) $data['option_value'];
        return 1;
    }

    public function delete(string $table, array $where): int
    {
        $this->before('delete', $where['option_name']);
        if (!$this->matches($where)) {
            return 0;
        }
        unset($GLOBALS['shim']['options'][$where['option_name']]);
        return 1;
    }

    private function matches(array $where): bool
    {
        $n = $where['option_name'];
        return array_key_exists($n, $GLOBALS['shim']['options'])
            && (!array_key_exists('option_value', $where) || self::stored($n) === (string) $where['option_value']);
    }

    private static function stored(string $name): string
    {
        $v = $GLOBALS['shim']['options'][$name];
        return (string) maybe_serialize($v);
    }

    private function before(string $op, string $name): void
    {
        $this->writes[] = "$op $name";
        $hook = $GLOBALS['shim']['before_write'] ?? null;
        if ($hook) {
            $GLOBALS['shim']['before_write'] = null; // once, and not for the writes it makes itself
            $hook($op, $name);
        }
    }
}
const ARRAY_A = 'ARRAY_A';

// URLs.
function home_url(string $path = ''): string
{
    return $GLOBALS['shim']['home'] . '/' . ltrim($path, '/');
}
function get_rest_url(mixed $blog, string $path): string
{
    return home_url('/wp-json/' . ltrim($path, '/'));
}
function get_permalink(int|WP_Post $p): string|false
{
    $p = get_post($p);
    if (!$p) {
        return false;
    }
    // As WordPress (wp_force_plain_post_permalink): a post that is not viewable gets ?p=ID.
    if ($p->post_status !== 'publish' || !get_option('permalink_structure')) {
        return home_url('/?p=' . $p->ID);
    }
    return home_url('/' . $p->post_name . '/');
}
function wp_get_shortlink(int $id): string
{
    return home_url('/?p=' . $id);
}
function get_post_type_object(string $t): ?object
{
    return match ($t) {
        'post' => (object) ['public' => true, 'show_in_rest' => true, 'rest_base' => 'posts'],
        'page' => (object) ['public' => true, 'show_in_rest' => true, 'rest_base' => 'pages'],
        'product' => (object) ['public' => true, 'show_in_rest' => false, 'rest_base' => false],
        default => (object) ['public' => false, 'show_in_rest' => false, 'rest_base' => false],
    };
}
function get_post_type_archive_link(string $t): string|false
{
    return $t === 'product' ? home_url('/products/') : false;
}
function get_object_taxonomies(string $t, string $out = 'names'): array
{
    if ($t !== 'post') {
        return [];
    }
    if ($out !== 'objects') {
        return ['category', 'post_tag'];
    }
    return [
        (object) ['name' => 'category', 'public' => true, 'show_in_rest' => true, 'rest_base' => 'categories'],
        (object) ['name' => 'post_tag', 'public' => true, 'show_in_rest' => true, 'rest_base' => 'tags'],
    ];
}
function get_taxonomy(string $tax): object|false
{
    foreach (get_object_taxonomies('post', 'objects') as $t) {
        if ($t->name === $tax) {
            return $t;
        }
    }
    return false;
}
function get_the_terms(WP_Post $p, string $tax): array|false
{
    $terms = wp_get_post_terms((int) $p->ID, $tax);
    return $terms === [] ? false : $terms;
}
function wp_get_post_terms(int $id, string $tax, array $args = []): array
{
    $out = [];
    foreach ($GLOBALS['shim']['post_terms'][$id][$tax] ?? [] as $termId) {
        $out[] = ($args['fields'] ?? '') === 'ids' ? $termId : get_term($termId, $tax);
    }
    return $out;
}
function get_term(int $id, string $tax = ''): ?WP_Term
{
    foreach ($GLOBALS['shim']['terms'] as $t => $terms) {
        if (isset($terms[$id]) && ($tax === '' || $tax === $t)) {
            return new WP_Term($id, $t, $terms[$id]);
        }
    }
    return null;
}
function get_term_link(WP_Term $term, string $tax = ''): string
{
    return home_url(($term->taxonomy === 'category' ? '/category/' : '/tag/') . $term->slug . '/');
}
function get_term_feed_link(int $id, string $tax): string
{
    return rtrim(get_term_link(get_term($id, $tax)), '/') . '/feed/';
}
function get_author_posts_url(int $id, string $nicename = ''): string
{
    $nicename = $nicename !== '' ? $nicename : ($GLOBALS['shim']['users'][$id]->user_nicename ?? 'user' . $id);
    return get_option('permalink_structure') ? home_url('/author/' . $nicename . '/') : home_url('/?author=' . $id);
}
function get_userdata(int $id): WP_User|false
{
    return $GLOBALS['shim']['users'][$id] ?? false;
}
function wp_get_associated_nav_menu_items(int $id, string $kind = 'post_type', string $type = ''): array
{
    return $GLOBALS['shim']['menu_items']["$kind:$id"] ?? [];
}
function wp_is_block_theme(): bool
{
    return $GLOBALS['shim']['block_theme'];
}
function current_user_can(string $cap): bool
{
    return $GLOBALS['shim']['can'];
}
function esc_html(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES);
}
function get_author_feed_link(int $id): string
{
    return get_option('permalink_structure') ? get_author_posts_url($id) . 'feed/' : home_url('/?feed=rss2&author=' . $id);
}
function get_feed_link(string $feed): string
{
    return home_url($feed === 'rss2' ? '/feed/' : ($feed === 'comments_rss2' ? '/comments/feed/' : '/feed/' . $feed . '/'));
}
function get_post_comments_feed_link(int $id): string
{
    // As WordPress: the permalink plus feed/ under pretty permalinks, whatever the permalink is.
    return get_option('permalink_structure') ? rtrim((string) get_permalink($id), '/') . '/feed/' : home_url('/?feed=rss2&p=' . $id);
}
function get_year_link(int $y): string
{
    return home_url("/$y/");
}
function get_month_link(int $y, int $m): string
{
    return home_url(sprintf('/%d/%02d/', $y, $m));
}
function get_day_link(int $y, int $m, int $d): string
{
    return home_url(sprintf('/%d/%02d/%02d/', $y, $m, $d));
}

// Posts and comments.
function get_post(int|WP_Post $p): ?WP_Post
{
    return $p instanceof WP_Post ? $p : ($GLOBALS['shim']['posts'][$p] ?? null);
}
function wp_is_post_revision(int|WP_Post $p): bool
{
    return in_array(get_post($p)?->ID, $GLOBALS['shim']['revisions'], true);
}
function wp_is_post_autosave(int|WP_Post $p): bool
{
    return false;
}
function get_comment(int|WP_Comment $c): ?WP_Comment
{
    return $c instanceof WP_Comment ? $c : ($GLOBALS['shim']['comments'][$c] ?? null);
}

// The current request (template tags).
function shim_query(string $kind, int $id = 0, array $postIds = []): void
{
    $GLOBALS['shim']['query'] = ['kind' => $kind, 'id' => $id];
    $GLOBALS['wp_query'] = (object) ['posts' => array_map(fn ($i) => new WP_Post(['ID' => $i]), $postIds)];
}
function is_feed(): bool
{
    return ($GLOBALS['shim']['query']['kind'] ?? '') === 'feed';
}
function is_front_page(): bool
{
    return ($GLOBALS['shim']['query']['kind'] ?? '') === 'home';
}
function is_home(): bool
{
    return is_front_page();
}
function is_singular(): bool
{
    return ($GLOBALS['shim']['query']['kind'] ?? '') === 'single';
}
function is_category(): bool
{
    return ($GLOBALS['shim']['query']['kind'] ?? '') === 'category';
}
function is_tag(): bool
{
    return false;
}
function is_tax(): bool
{
    return false;
}
function is_author(): bool
{
    return ($GLOBALS['shim']['query']['kind'] ?? '') === 'author';
}
function get_queried_object_id(): int
{
    return $GLOBALS['shim']['query']['id'] ?? 0;
}
function is_admin(): bool
{
    return false;
}
function is_user_logged_in(): bool
{
    return false;
}

// Start every script from the same state the tests reset to.
shim_reset();
