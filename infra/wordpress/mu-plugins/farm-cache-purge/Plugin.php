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
        // Before an update or a trashing the post still has its old slug and terms: their URLs go
        // stale too (a renamed post's old permalink, a trashed post's public URL).
        add_action('pre_post_update', [$this, 'onPost'], 99, 1);
        add_action('wp_trash_post', [$this, 'onPost'], 99, 1);
        add_action('save_post', [$this, 'onPost'], 99, 1);
        add_action('transition_post_status', [$this, 'onTransition'], 99, 3);
        add_action('before_delete_post', [$this, 'onPost'], 99, 1);
        add_action('deleted_post', [$this, 'onPost'], 99, 1);
        add_action('trashed_post', [$this, 'onPost'], 99, 1);
        foreach (['comment_post', 'edit_comment', 'deleted_comment', 'trashed_comment', 'spammed_comment', 'wp_set_comment_status'] as $hook) {
            add_action($hook, [$this, 'onComment'], 99, 1);
        }
        add_action('transition_comment_status', [$this, 'onCommentTransition'], 99, 3);
        foreach (['created_term', 'edited_term', 'delete_term'] as $hook) {
            add_action($hook, [$this, 'onTerm'], 99, 3);
        }
        foreach (['switch_theme', 'customize_save_after', 'wp_update_nav_menu'] as $hook) {
            add_action($hook, [$this, 'purgeAll'], 99, 0);
        }
        add_action('wp', [$this, 'sendTagHeaders'], 99, 0);
        add_action('shutdown', [$this, 'flush'], 99, 0);
        add_action('farm_cache_purge_retry', [$this->client, 'retryQueued']);
        add_action('init', [$this, 'scheduleRetry'], 99, 0);
    }

    /**
     * The hourly retry of queued webhooks, scheduled on `init`, never while WordPress installs: the
     * mu-plugin loads before the install has created the options table, and asking the scheduler
     * then printed a database error on the install page.
     */
    public function scheduleRetry(): void
    {
        if ((function_exists('wp_installing') && wp_installing()) || !function_exists('wp_next_scheduled')) {
            return;
        }
        if (!wp_next_scheduled('farm_cache_purge_retry')) {
            wp_schedule_event(time() + 60, 'hourly', 'farm_cache_purge_retry');
        }
    }

    public function onPost(int|\WP_Post $post): void
    {
        $post = get_post($post);
        if (!$post instanceof \WP_Post || wp_is_post_revision($post) || wp_is_post_autosave($post)) {
            return;
        }
        $type = get_post_type_object($post->post_type);
        if (!$type || empty($type->public)) {
            return;
        }
        // Drafts are not cached; a post leaving "publish" is handled by onTransition.
        if ($post->post_status !== 'publish' && $post->post_status !== 'trash') {
            return;
        }
        $this->addPost($post);
    }

    public function onTransition(string $new, string $old, \WP_Post $post): void
    {
        if ($new !== $old && ($new === 'publish' || $old === 'publish')) {
            $type = get_post_type_object($post->post_type);
            if ($type && !empty($type->public) && !wp_is_post_revision($post)) {
                $this->addPost($post);
            }
        }
    }

    public function onComment(int|\WP_Comment $comment): void
    {
        $c = get_comment($comment);
        if ($c && ($p = get_post((int) $c->comment_post_ID)) instanceof \WP_Post && $p->post_status === 'publish') {
            $this->addPost($p);
        }
    }

    public function onCommentTransition(string $new, string $old, \WP_Comment $comment): void
    {
        if ($new !== $old) {
            $this->onComment($comment);
        }
    }

    public function onTerm(int $termId, int $ttId = 0, string $taxonomy = ''): void
    {
        $term = get_term($termId, $taxonomy);
        if ($term instanceof \WP_Term) {
            foreach (UrlSet::forTerm($term, $this->config->pages) as $u) {
                $this->urls[$u] = true;
            }
        }
        $this->tags['t-' . $termId] = true;
    }

    public function purgeAll(): void
    {
        $this->all = true;
    }

    private function addPost(\WP_Post $post): void
    {
        foreach (UrlSet::forPost($post, $this->config->pages) as $u) {
            $this->urls[$u] = true;
        }
        foreach (Tags::forPost($post) as $t) {
            $this->tags[$t] = true;
        }
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
        if ($purge === null || !$this->config->canSend()) {
            return;
        }
        if (function_exists('fastcgi_finish_request')) {
            fastcgi_finish_request();
        }
        if ($this->client->send($purge) === 202) {
            $this->client->retryQueued();
        }
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
