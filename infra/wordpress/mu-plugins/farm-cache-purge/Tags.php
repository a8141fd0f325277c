<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * Cache tags, always prefixed with the site id so one site can never purge another's objects.
 * Pages carry them in `xkey` (Varnish) and `Cache-Tag` (the edge); changes purge by them.
 *
 * | tag       | carried by                                         | purged by                        |
 * |-----------|----------------------------------------------------|----------------------------------|
 * | `p-ID`    | the post's page, every list showing the post       | a change of the post, a comment  |
 * | `t-ID`    | the term's archive                                 | a post change in it, the term    |
 * | `tn-ID`   | pages that print the term: posts in it, lists      | a change of the term only        |
 * | `a-ID`    | the author's archive                               | a post change by them, the user  |
 * | `an-ID`   | pages that print the author's name: posts, lists   | a change of the user only        |
 * | `home`    | the front page and the posts page                  | any post change                  |
 * | `feed`    | feeds                                              | any post change                  |
 * | `w-posts` | pages whose sidebar lists posts (recent, archives) | a post published, unpublished,   |
 * |           |                                                    | retitled (Widgets.php)           |
 * | `w-terms` | pages whose sidebar lists categories or tags       | a term change, a post published  |
 * | `w-comments` | pages whose sidebar lists recent comments       | an approved comment              |
 *
 * The name tags (`tn-`, `an-`) are separate from the archive tags so that editing one post does
 * not purge every other post in its category: a post change sends `t-`, a rename sends both.
 */
final class Tags
{
    /** Tags a page carries at most (Cloudflare allows 16 KB of Cache-Tag; every hop has limits). */
    public const MAX_PER_PAGE = 200;

    public static function prefix(string $siteId, array $tags): array
    {
        $out = [];
        foreach ($tags as $t) {
            $out[$siteId . '-' . $t] = true;
        }
        return array_keys($out);
    }

    /** Tags a post change purges (unprefixed). @return list<string> */
    public static function forPost(\WP_Post $post): array
    {
        $tags = ['p-' . $post->ID, 'home', 'feed'];
        if ((int) $post->post_author > 0) {
            $tags[] = 'a-' . (int) $post->post_author;
        }
        foreach (self::termIds($post) as $termId) {
            $tags[] = 't-' . $termId;
        }
        return $tags;
    }

    /** Tags a term change (rename, slug, description, deletion) purges. @return list<string> */
    public static function forTerm(int $termId): array
    {
        return ['t-' . $termId, 'tn-' . $termId, 'w-terms'];
    }

    /** Tags an author change (display name, slug) purges. @return list<string> */
    public static function forAuthor(int $userId): array
    {
        return ['a-' . $userId, 'an-' . $userId];
    }

    /**
     * Tags of the page being rendered (unprefixed): what it is, every post listed on it, then the
     * terms and authors it prints (a single post prints its categories, tags and byline; lists print
     * those of each post). The most specific come first, since a page keeps MAX_PER_PAGE.
     * @return list<string>
     */
    public static function forCurrentPage(): array
    {
        global $wp_query;
        $tags = [];
        if (is_feed()) {
            $tags[] = 'feed';
        }
        if (is_front_page() || is_home()) {
            $tags[] = 'home';
        }
        $shown = [];
        if (is_singular()) {
            $tags[] = 'p-' . (int) get_queried_object_id();
            $post = get_post((int) get_queried_object_id());
            if ($post instanceof \WP_Post) {
                $shown[] = $post;
            }
        } elseif (is_category() || is_tag() || is_tax()) {
            $tags[] = 't-' . (int) get_queried_object_id();
            $tags[] = 'tn-' . (int) get_queried_object_id();
        } elseif (is_author()) {
            $tags[] = 'a-' . (int) get_queried_object_id();
            $tags[] = 'an-' . (int) get_queried_object_id();
        }
        $posts = isset($wp_query) && is_object($wp_query) && is_array($wp_query->posts ?? null) ? $wp_query->posts : [];
        foreach ($posts as $p) {
            $tags[] = 'p-' . (int) (is_object($p) ? $p->ID : $p);
            if (!is_singular() && $p instanceof \WP_Post) {
                $shown[] = $p;
            }
        }
        if (!is_feed()) {
            // Every page shows the sidebars; feeds do not.
            array_push($tags, ...Widgets::forSite());
        }
        $names = [];
        foreach ($shown as $p) {
            if ((int) $p->post_author > 0) {
                $names[] = 'an-' . (int) $p->post_author;
            }
            foreach (self::termIds($p) as $termId) {
                $names[] = 'tn-' . $termId;
            }
        }
        return array_values(array_unique([...$tags, ...$names]));
    }

    /** The two response headers for a tag list (already prefixed). @return array<string, string> */
    public static function headers(array $prefixed): array
    {
        $prefixed = array_slice($prefixed, 0, self::MAX_PER_PAGE);
        return ['xkey' => implode(' ', $prefixed), 'Cache-Tag' => implode(',', $prefixed)];
    }

    /**
     * Ids of the post's terms in its public taxonomies, from the object term cache (the main query
     * primes it for every listed post: no query per post). @return list<int>
     */
    private static function termIds(\WP_Post $post): array
    {
        $ids = [];
        foreach (get_object_taxonomies($post->post_type, 'objects') as $tax) {
            if (empty($tax->public)) {
                continue;
            }
            $terms = get_the_terms($post, $tax->name);
            foreach (is_array($terms) ? $terms : [] as $term) {
                $ids[] = (int) $term->term_id;
            }
        }
        return $ids;
    }
}
