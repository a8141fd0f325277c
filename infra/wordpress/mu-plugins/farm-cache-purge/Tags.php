<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * Cache tags, always prefixed with the site id so one site can never purge another's objects:
 * `p-ID` (a post), `t-ID` (a term), `a-ID` (an author), `home`, `feed`. Pages carry them in `xkey`
 * (Varnish) and `Cache-Tag` (Cloudflare); changes purge by them.
 */
final class Tags
{
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
        foreach (get_object_taxonomies($post->post_type) as $tax) {
            $ids = wp_get_post_terms((int) $post->ID, $tax, ['fields' => 'ids']);
            foreach (is_array($ids) ? $ids : [] as $termId) {
                $tags[] = 't-' . (int) $termId;
            }
        }
        return $tags;
    }

    /**
     * Tags of the page being rendered (unprefixed): what it shows, and every post listed on it,
     * so a post change purges each list that shows the post. @return list<string>
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
        if (is_singular()) {
            $tags[] = 'p-' . (int) get_queried_object_id();
        } elseif (is_category() || is_tag() || is_tax()) {
            $tags[] = 't-' . (int) get_queried_object_id();
        } elseif (is_author()) {
            $tags[] = 'a-' . (int) get_queried_object_id();
        }
        foreach ($wp_query->posts ?? [] as $p) {
            $tags[] = 'p-' . (int) (is_object($p) ? $p->ID : $p);
        }
        return array_values(array_unique($tags));
    }

    /** The two response headers for a tag list (already prefixed). @return array<string, string> */
    public static function headers(array $prefixed): array
    {
        // Headers have limits at every hop (Cloudflare: 16 KB of Cache-Tag); keep a page's tags bounded.
        $prefixed = array_slice($prefixed, 0, 200);
        return ['xkey' => implode(' ', $prefixed), 'Cache-Tag' => implode(',', $prefixed)];
    }
}
