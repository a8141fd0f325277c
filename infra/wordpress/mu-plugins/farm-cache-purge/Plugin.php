<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * Wires WordPress hooks: content changes add URLs and tags to one pending purge for this request;
 * at `shutdown` (after the editor's response is flushed under PHP-FPM) one signed webhook carries
 * them all. Front-end pages get `xkey` and `Cache-Tag` headers.
 */
final class Plugin
{
    /**
     * Options whose change shows on every page: the site title and tagline, permalinks, widgets,
     * the theme's settings (menu locations, logo, colours), what the front page is, dates.
     */
    public const SITE_WIDE_OPTIONS = [
        'blogname', 'blogdescription', 'permalink_structure', 'category_base', 'tag_base',
        'sidebars_widgets', 'show_on_front', 'page_on_front', 'page_for_posts', 'posts_per_page',
        'posts_per_rss', 'rss_use_excerpt', 'date_format', 'time_format', 'timezone_string',
        'gmt_offset', 'start_of_week', 'WPLANG', 'site_icon', 'site_logo', 'stylesheet', 'template',
        'blog_public', 'default_comment_status', 'thread_comments', 'page_comments', 'comments_per_page',
    ];
    /** Option name prefixes with the same effect: every widget's settings, every theme's mods. */
    public const SITE_WIDE_OPTION_PREFIXES = ['widget_', 'theme_mods_'];
    /**
     * Post types that are not public but render on every page: block-theme navigation, templates,
     * template parts and global styles, the Customizer's CSS, reusable blocks.
     */
    public const SITE_WIDE_TYPES = ['wp_navigation', 'wp_template', 'wp_template_part', 'wp_global_styles', 'custom_css', 'wp_block'];

    /** @var array<string, true> */
    private array $urls = [];
    /** @var array<string, true> */
    private array $tags = [];
    private bool $all = false;
    private static ?self $instance = null;

    public function __construct(private Config $config, private Client $client)
    {
    }

    public static function boot(Config $config): self
    {
        self::$instance = new self($config, new Client($config));
        self::$instance->register();
        return self::$instance;
    }

    public function register(): void
    {
        // Before an update, a trashing or a deletion the post still has its old slug, terms and
        // status: the URLs it had while published go stale. After it, a post that left "publish"
        // has no public URL any more (WordPress gives it `?p=7` and a `__trashed` slug): only its
        // tags are sent then.
        add_action('pre_post_update', [$this, 'onPreUpdate'], 99, 2);
        add_action('wp_trash_post', [$this, 'onPost'], 99, 1);
        add_action('before_delete_post', [$this, 'onPost'], 99, 1);
        add_action('save_post', [$this, 'onPost'], 99, 1);
        add_action('transition_post_status', [$this, 'onTransition'], 99, 3);
        // Comments: only those visitors see (approved) change a page. A held or spam comment,
        // and its trashing or deletion, purge nothing. The REST API and importers insert with
        // wp_insert_comment() alone (no comment_post), hence both hooks.
        add_action('comment_post', [$this, 'onNewComment'], 99, 2);
        add_action('wp_insert_comment', [$this, 'onInsertedComment'], 99, 2);
        add_action('edit_comment', [$this, 'onEditComment'], 99, 1);
        add_action('transition_comment_status', [$this, 'onCommentTransition'], 99, 3);
        // Terms: the old archive URLs before an edit or a deletion, the new ones after.
        add_action('edit_terms', [$this, 'onTermBefore'], 99, 2);
        add_action('pre_delete_term', [$this, 'onTermBefore'], 99, 2);
        foreach (['created_term', 'edited_term', 'delete_term'] as $hook) {
            add_action($hook, [$this, 'onTerm'], 99, 3);
        }
        add_action('profile_update', [$this, 'onProfileUpdate'], 99, 2);
        add_action('updated_option', [$this, 'onOption'], 99, 1);
        add_action('added_option', [$this, 'onAddedOption'], 99, 2);
        foreach (['switch_theme', 'customize_save_after', 'wp_update_nav_menu', 'wp_update_nav_menu_item', 'wp_delete_nav_menu'] as $hook) {
            add_action($hook, [$this, 'purgeAll'], 99, 0);
        }
        add_action('wp', [$this, 'sendTagHeaders'], 99, 0);
        add_action('shutdown', [$this, 'flush'], 99, 0);
        add_action('farm_cache_purge_retry', [$this->client, 'retryQueued'], 10, 0);
        add_action(Client::RETRY_SOON, [$this->client, 'retryQueued'], 10, 0);
        add_action('init', [$this, 'scheduleRetry'], 99, 0);
        add_action('admin_notices', [$this, 'adminNotice'], 10, 0);
    }

    /**
     * The hourly retry of queued webhooks (a safety net behind the short retry Client schedules
     * while its queue is not empty), scheduled on `init`, never while WordPress installs: the
     * mu-plugin loads before the install has created the options table, and asking the scheduler
     * then printed a database error on the install page.
     */
    public function scheduleRetry(): void
    {
        if (self::installing() || !function_exists('wp_next_scheduled')) {
            return;
        }
        if (!wp_next_scheduled('farm_cache_purge_retry')) {
            wp_schedule_event(time() + 60, 'hourly', 'farm_cache_purge_retry');
        }
    }

    /** Before a post is updated: its URLs as they were, and whether navigation shows the change. */
    public function onPreUpdate(int $postId, array $data = []): void
    {
        $old = get_post($postId);
        if (!$old instanceof \WP_Post) {
            return;
        }
        if (in_array($old->post_type, self::SITE_WIDE_TYPES, true)) {
            // Published (in use) before or after: a draft template or auto-draft styles show nowhere.
            $this->all = $this->all || $old->post_status === 'publish' || ($data['post_status'] ?? '') === 'publish';
            return;
        }
        $this->onPost($old);
        $wasPublic = $old->post_status === 'publish';
        $isPublic = ($data['post_status'] ?? $old->post_status) === 'publish';
        if (!$wasPublic && !$isPublic) {
            return;
        }
        $shownInNavigation = false;
        foreach (['post_title', 'post_name', 'post_parent', 'menu_order'] as $field) {
            if (array_key_exists($field, $data) && (string) $data[$field] !== (string) $old->$field) {
                $shownInNavigation = true;
            }
        }
        $listed = false; // what a recent-posts or archives sidebar prints of a post
        foreach (['post_title', 'post_name', 'post_date'] as $field) {
            if (array_key_exists($field, $data) && (string) $data[$field] !== (string) $old->$field) {
                $listed = true;
            }
        }
        if ($listed && $old->post_type === 'post') {
            $this->addTags(['w-posts']);
        }
        if (($shownInNavigation || $wasPublic !== $isPublic) && self::inNavigation($old)) {
            $this->all = true;
        }
    }

    public function onPost(int|\WP_Post $post): void
    {
        $post = get_post($post);
        if (!$post instanceof \WP_Post || wp_is_post_revision($post) || wp_is_post_autosave($post)) {
            return;
        }
        if (in_array($post->post_type, self::SITE_WIDE_TYPES, true)) {
            $this->all = $this->all || $post->post_status === 'publish';
            return;
        }
        // Only a published post has public URLs; drafts are not cached, and a post that left
        // "publish" is handled by onTransition (tags) and the hooks that ran before it left.
        if ($post->post_status === 'publish' && self::isPublicType($post)) {
            $this->addPost($post);
        }
    }

    public function onTransition(string $new, string $old, \WP_Post $post): void
    {
        if ($new === $old || wp_is_post_revision($post)) {
            return;
        }
        if ($new !== 'publish' && $old !== 'publish') {
            return;
        }
        if (in_array($post->post_type, self::SITE_WIDE_TYPES, true)) {
            $this->all = true;
            return;
        }
        if (!self::isPublicType($post)) {
            return;
        }
        if ($post->post_type === 'post') {
            // Sidebars listing recent posts, archives and categories (with their counts) change.
            $this->addTags(['w-posts', 'w-terms']);
        }
        if ($new === 'publish') {
            $this->addPost($post);
        } else {
            // Left "publish": its URLs were taken before the change; the tags reach every page
            // that showed it, whatever its URL was.
            $this->addTags(Tags::forPost($post));
        }
        if ($old === 'new' && self::inNavigation($post)) {
            $this->all = true; // a new page appears in a block theme's page list
        }
    }

    /** A new comment: only an approved one is on the page. */
    public function onNewComment(int $commentId, int|string $approved = 0): void
    {
        if ((string) $approved === '1') {
            $this->addComment(get_comment($commentId));
        }
    }

    public function onInsertedComment(int $commentId, ?object $comment = null): void
    {
        $comment ??= get_comment($commentId);
        if ($comment && (string) $comment->comment_approved === '1') {
            $this->addComment($comment);
        }
    }

    /** An edited comment's text or author: only visible while approved. */
    public function onEditComment(int $commentId): void
    {
        $c = get_comment($commentId);
        if ($c && (string) $c->comment_approved === '1') {
            $this->addComment($c);
        }
    }

    /** Approved ↔ anything else (held, spam, trash, deleted); other moves change no page. */
    public function onCommentTransition(string $new, string $old, object $comment): void
    {
        if ($new !== $old && ($new === 'approved' || $old === 'approved')) {
            $this->addComment($comment);
        }
    }

    /** Before a term is edited or deleted: the archive URLs under its old slug. */
    public function onTermBefore(int $termId, string $taxonomy = ''): void
    {
        $term = get_term($termId, $taxonomy);
        if ($term instanceof \WP_Term && $this->termMatters($term->taxonomy)) {
            $this->addUrls(UrlSet::forTerm($term, $this->config->pages));
            if (self::termInNavigation($termId, $term->taxonomy)) {
                $this->all = true;
            }
        }
    }

    /**
     * A term created, edited or deleted: its archive (new slug) and every page that prints its name
     * (the posts in it, the lists showing them), by tag.
     */
    public function onTerm(int $termId, int $ttId = 0, string $taxonomy = ''): void
    {
        if (!$this->termMatters($taxonomy)) {
            return;
        }
        $term = get_term($termId, $taxonomy);
        if ($term instanceof \WP_Term) {
            $this->addUrls(UrlSet::forTerm($term, $this->config->pages));
        }
        $this->addTags(Tags::forTerm($termId));
    }

    /** A user's display name or slug changed: every page with their byline, and their archive. */
    public function onProfileUpdate(int $userId, ?object $before = null): void
    {
        $now = get_userdata($userId);
        if (!$now || !$before) {
            return;
        }
        $nameChanged = (string) ($before->display_name ?? '') !== (string) $now->display_name;
        $slugChanged = (string) ($before->user_nicename ?? '') !== (string) $now->user_nicename;
        if (!$nameChanged && !$slugChanged) {
            return;
        }
        $slugs = array_values(array_filter([(string) ($before->user_nicename ?? ''), (string) $now->user_nicename]));
        $this->addUrls(UrlSet::forAuthor($userId, $slugs, $this->config->pages));
        $this->addTags(Tags::forAuthor($userId));
    }

    /** Site title, tagline, permalinks, widgets, theme settings: every page shows them. */
    public function onOption(string $option): void
    {
        if (in_array($option, self::SITE_WIDE_OPTIONS, true)) {
            $this->all = true;
            return;
        }
        foreach (self::SITE_WIDE_OPTION_PREFIXES as $prefix) {
            if (str_starts_with($option, $prefix)) {
                $this->all = true;
                return;
            }
        }
    }

    /**
     * An option created. WordPress creates each registered widget's settings, empty, on the first
     * request that lacks them (WP_Widget::get_settings), front end included: that shows nothing.
     */
    public function onAddedOption(string $option, mixed $value = null): void
    {
        $empty = $value === null || $value === '' || $value === [] || $value === ['_multiwidget' => 1];
        if (!$empty) {
            $this->onOption($option);
        }
    }

    public function purgeAll(): void
    {
        $this->all = true;
    }

    private function addPost(\WP_Post $post): void
    {
        $this->addUrls(UrlSet::forPost($post, $this->config->pages));
        $this->addTags(Tags::forPost($post));
    }

    private function addComment(?object $comment): void
    {
        $post = $comment ? get_post((int) $comment->comment_post_ID) : null;
        if ($post instanceof \WP_Post && $post->post_status === 'publish' && self::isPublicType($post)) {
            // The post's page and comment feeds; lists showing its comment count carry its tag.
            $this->addUrls(UrlSet::forComment($post));
            $this->addTags(['p-' . (int) $post->ID, 'w-comments']);
        }
    }

    private function addUrls(array $urls): void
    {
        foreach ($urls as $u) {
            $this->urls[$u] = true;
        }
    }

    private function addTags(array $tags): void
    {
        foreach ($tags as $t) {
            $this->tags[$t] = true;
        }
    }

    /** Menus are a taxonomy whose changes show on every page; private taxonomies show nowhere. */
    private function termMatters(string $taxonomy): bool
    {
        if ($taxonomy === 'nav_menu') {
            $this->all = true;
            return false;
        }
        $tax = $taxonomy === '' ? null : get_taxonomy($taxonomy);
        return $taxonomy === '' || ($tax && !empty($tax->public));
    }

    private static function isPublicType(\WP_Post $post): bool
    {
        $type = get_post_type_object($post->post_type);
        return $type && !empty($type->public);
    }

    /**
     * Whether the site's navigation prints this post: a menu item links to it, or it is a page and
     * the theme is a block theme (whose navigation falls back to listing every page).
     */
    private static function inNavigation(\WP_Post $post): bool
    {
        if (function_exists('wp_get_associated_nav_menu_items')
            && wp_get_associated_nav_menu_items((int) $post->ID, 'post_type', $post->post_type) !== []) {
            return true;
        }
        return $post->post_type === 'page' && function_exists('wp_is_block_theme') && wp_is_block_theme();
    }

    private static function termInNavigation(int $termId, string $taxonomy): bool
    {
        return function_exists('wp_get_associated_nav_menu_items')
            && wp_get_associated_nav_menu_items($termId, 'taxonomy', $taxonomy) !== [];
    }

    private static function installing(): bool
    {
        return function_exists('wp_installing') && wp_installing();
    }

    /** The one purge this request sends, or null when nothing changed. Limits match the purger's. */
    public function pending(): ?array
    {
        if (!$this->all && $this->urls === [] && $this->tags === []) {
            return null;
        }
        if ($this->all || count($this->urls) > 2000 || count($this->tags) > 500) {
            return ['site' => $this->config->siteId, 'all' => true];
        }
        $purge = ['site' => $this->config->siteId];
        if ($this->urls !== []) {
            $purge['urls'] = array_keys($this->urls);
        }
        if ($this->tags !== []) {
            $purge['tags'] = Tags::prefix($this->config->siteId, array_keys($this->tags));
        }
        return $purge;
    }

    /** At shutdown: release the editor first (PHP-FPM), then send the one webhook and any retries. */
    public function flush(): void
    {
        $purge = $this->pending();
        $this->urls = $this->tags = [];
        $this->all = false;
        // While WordPress installs nothing is cached yet, and the options table may not exist.
        if (self::installing()) {
            return;
        }
        if ($purge === null) {
            $this->retryIfDue();
            return;
        }
        if (!$this->config->canSend()) {
            Client::log('cannot send a purge (' . $this->config->problem() . '); the changed pages stay stale'
                . ' in Varnish and at the edge until their cache TTL');
            return;
        }
        if (function_exists('fastcgi_finish_request')) {
            fastcgi_finish_request();
        }
        if ($this->client->send($purge) === 202) {
            $this->client->retryQueued();
        }
    }

    /**
     * Runs the short retry once it is due, from any request that reaches PHP. WP-cron runs it only
     * if its loopback request to the site's own URL gets through, which behind an edge and a load
     * balancer it may not (or not at all with DISABLE_WP_CRON and no system cron).
     */
    private function retryIfDue(): void
    {
        if (!function_exists('wp_next_scheduled') || !$this->config->canSend()) {
            return;
        }
        $due = wp_next_scheduled(Client::RETRY_SOON);
        if ($due === false || $due > time()) {
            return;
        }
        // Taken off the schedule first, as WP-cron does, so concurrent requests rarely both run it
        // (when they do, each claims a purge before sending it: every purge still goes once).
        wp_unschedule_event($due, Client::RETRY_SOON);
        if (function_exists('fastcgi_finish_request')) {
            fastcgi_finish_request();
        }
        $this->client->retryQueued();
    }

    /** For administrators, on every admin page while the plugin cannot send: what to set. */
    public function adminNotice(): void
    {
        if ($this->config->canSend() || !current_user_can('manage_options')) {
            return;
        }
        echo '<div class="notice notice-error"><p><strong>Farm cache purge cannot send purges:</strong> ',
            esc_html($this->config->problem()),
            '. Published changes stay stale in the cache until it expires. See the plugin README (secret as a constant or a file).</p></div>';
    }

    public function sendTagHeaders(): void
    {
        if (is_admin() || is_user_logged_in() || headers_sent() || $this->config->siteId === '') {
            return;
        }
        foreach (Tags::headers(Tags::prefix($this->config->siteId, Tags::forCurrentPage())) as $name => $value) {
            if ($value !== '') {
                header($name . ': ' . $value);
            }
        }
    }
}
