<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * The URLs a content change makes stale. Starts from the set the "Proxy Cache Purge" plugin
 * purges for a post (permalink, REST URL, AMP URL, term archives and their REST URLs, author
 * archive and feed, all feeds, home, page for posts, post type archive) and adds what it misses:
 * archive pagination, date archives, sitemaps and the shortlink. Pure over WordPress's template
 * functions; `farm_cache_purge_urls` lets a site add its own.
 */
final class UrlSet
{
    /** @return list<string> */
    public static function forPost(\WP_Post $post, int $pages): array
    {
        $urls = [];
        $id = (int) $post->ID;
        $permalink = get_permalink($post);
        if (is_string($permalink) && $permalink !== '') {
            $urls[] = $permalink;
            if (function_exists('amp_get_permalink')) {
                $urls[] = amp_get_permalink($id);
            }
        }
        $type = get_post_type_object($post->post_type);
        if ($type && !empty($type->show_in_rest)) {
            $base = $type->rest_base ?: $post->post_type;
            $urls[] = get_rest_url(null, 'wp/v2/' . $base . '/' . $id);
        }
        // Terms: archive, its pages, its feed, its REST URL.
        foreach (get_object_taxonomies($post->post_type, 'objects') as $tax) {
            if (empty($tax->public)) {
                continue;
            }
            $terms = wp_get_post_terms($id, $tax->name);
            if (!is_array($terms)) {
                continue;
            }
            foreach ($terms as $term) {
                $link = get_term_link($term, $tax->name);
                if (!is_string($link)) {
                    continue;
                }
                array_push($urls, ...self::paged($link, $pages));
                $urls[] = get_term_feed_link($term->term_id, $tax->name);
                if (!empty($tax->show_in_rest)) {
                    $urls[] = get_rest_url(null, 'wp/v2/' . ($tax->rest_base ?: $tax->name) . '/' . $term->term_id);
                }
            }
        }
        // Author archive (paged) and feed.
        $author = (int) $post->post_author;
        if ($author > 0) {
            array_push($urls, ...self::paged(get_author_posts_url($author), $pages));
            $urls[] = get_author_feed_link($author);
        }
        // Feeds.
        foreach (['rss2', 'atom', 'rdf', 'rss', 'comments_rss2'] as $feed) {
            $urls[] = get_feed_link($feed);
        }
        $urls[] = get_post_comments_feed_link($id);
        // Home and the posts page, with their pagination: a new post shifts every page.
        array_push($urls, ...self::paged(home_url('/'), $pages));
        $postsPage = (int) get_option('page_for_posts');
        if ($postsPage > 0) {
            array_push($urls, ...self::paged((string) get_permalink($postsPage), $pages));
        }
        $archive = get_post_type_archive_link($post->post_type);
        if (is_string($archive) && $archive !== '') {
            array_push($urls, ...self::paged($archive, $pages));
        }
        // Date archives of the post's date.
        $time = strtotime($post->post_date_gmt . ' UTC') ?: strtotime($post->post_date);
        if ($time !== false && $post->post_type === 'post') {
            $y = (int) gmdate('Y', $time);
            $m = (int) gmdate('m', $time);
            $d = (int) gmdate('d', $time);
            array_push($urls, get_year_link($y), get_month_link($y, $m), get_day_link($y, $m, $d));
        }
        // Core sitemaps (WordPress 5.5+): the index, the post type's, the taxonomies', the users'.
        $urls[] = home_url('/wp-sitemap.xml');
        $urls[] = home_url('/wp-sitemap-posts-' . $post->post_type . '-1.xml');
        foreach (get_object_taxonomies($post->post_type) as $taxName) {
            $urls[] = home_url('/wp-sitemap-taxonomies-' . $taxName . '-1.xml');
        }
        $urls[] = home_url('/wp-sitemap-users-1.xml');
        // The shortlink (?p=ID) is cached as its own object.
        $short = wp_get_shortlink($id);
        if (is_string($short) && $short !== '') {
            $urls[] = $short;
        }
        return self::clean(apply_filters('farm_cache_purge_urls', $urls, $post));
    }

    /** URLs a term change makes stale: its archive (paged), feed and REST URL. @return list<string> */
    public static function forTerm(\WP_Term $term, int $pages): array
    {
        $urls = [];
        $link = get_term_link($term, $term->taxonomy);
        if (is_string($link)) {
            array_push($urls, ...self::paged($link, $pages));
            $urls[] = get_term_feed_link($term->term_id, $term->taxonomy);
        }
        $tax = get_taxonomy($term->taxonomy);
        if ($tax && !empty($tax->show_in_rest)) {
            $urls[] = get_rest_url(null, 'wp/v2/' . ($tax->rest_base ?: $tax->name) . '/' . $term->term_id);
        }
        $urls[] = home_url('/wp-sitemap-taxonomies-' . $term->taxonomy . '-1.xml');
        return self::clean(apply_filters('farm_cache_purge_term_urls', $urls, $term));
    }

    /**
     * URLs an approved comment (new, edited, or leaving the approved state) makes stale: the post's
     * page and the comment feeds. Lists that show the post's comment count are purged by its tag.
     * @return list<string>
     */
    public static function forComment(\WP_Post $post): array
    {
        $urls = [];
        $permalink = get_permalink($post);
        if (is_string($permalink) && $permalink !== '') {
            $urls[] = $permalink;
        }
        $urls[] = get_post_comments_feed_link((int) $post->ID);
        $urls[] = get_feed_link('comments_rss2');
        return self::clean(apply_filters('farm_cache_purge_comment_urls', $urls, $post));
    }

    /**
     * URLs an author change makes stale: the archive (paged) and feed under each of the given slugs
     * (the old one as well when it changed), the REST URL and the users' sitemap.
     * @param list<string> $nicenames
     * @return list<string>
     */
    public static function forAuthor(int $userId, array $nicenames, int $pages): array
    {
        $urls = [];
        foreach (array_unique($nicenames) as $nicename) {
            $archive = get_author_posts_url($userId, $nicename);
            array_push($urls, ...self::paged($archive, $pages));
            if (!str_contains($archive, '?')) {
                $urls[] = rtrim($archive, '/') . '/feed/';
            }
        }
        $urls[] = get_author_feed_link($userId);
        $urls[] = get_rest_url(null, 'wp/v2/users/' . $userId);
        $urls[] = home_url('/wp-sitemap-users-1.xml');
        return self::clean($urls);
    }

    /** `$url` and its pages 2..$pages (`/page/N/`, or `&paged=N` under plain permalinks). @return list<string> */
    public static function paged(string $url, int $pages): array
    {
        $out = [$url];
        // Plain permalinks (`?cat=3`) page with a query parameter; a path after a query is junk.
        $query = str_contains($url, '?');
        $plain = $query || (string) get_option('permalink_structure') === '';
        $base = $plain ? $url . ($query ? '&' : '?') . 'paged=' : rtrim($url, '/') . '/page/';
        for ($n = 2; $n <= $pages; $n++) {
            $out[] = $base . $n . ($plain ? '' : '/');
        }
        return $out;
    }

    /**
     * Absolute http(s) URLs only, fragments removed, each once, in order. Never a URL no visitor can
     * have cached: a slug WordPress gave a trashed post (`hello__trashed`), or a path glued onto a
     * plain permalink (`?p=7/feed/`, what a feed link becomes when the post is not viewable).
     * @return list<string>
     */
    public static function clean(array $urls): array
    {
        $seen = [];
        foreach ($urls as $u) {
            if (!is_string($u) || !preg_match('#^https?://#i', $u)) {
                continue;
            }
            if (str_contains($u, '__trashed') || preg_match('#[?&](p|page_id|attachment_id|cat|author)=[^&]*/#', $u)) {
                continue;
            }
            $u = explode('#', $u, 2)[0];
            $seen[$u] = true;
        }
        return array_keys($seen);
    }
}
