<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * What the site's sidebars list, as tags every page showing them carries: `w-posts` (recent posts,
 * archives, calendar), `w-terms` (categories, tag cloud), `w-comments` (recent comments). WordPress
 * installs all four of recent posts, recent comments, archives and categories in the first sidebar
 * (a footer on every page of Twenty Twenty-One): without these tags a new post, an approved comment
 * or a renamed category left that footer stale on every other page.
 */
final class Widgets
{
    /** Classic widgets by id base. */
    private const CLASSIC = [
        'recent-posts' => 'w-posts', 'archives' => 'w-posts', 'calendar' => 'w-posts',
        'categories' => 'w-terms', 'tag_cloud' => 'w-terms',
        'recent-comments' => 'w-comments',
    ];
    /** Blocks (in block widgets, `widget_block`) by name. */
    private const BLOCKS = [
        'latest-posts' => 'w-posts', 'archives' => 'w-posts', 'calendar' => 'w-posts',
        'categories' => 'w-terms', 'tag-cloud' => 'w-terms',
        'latest-comments' => 'w-comments',
    ];

    /**
     * The tags for what the sidebars list (unprefixed). Pure.
     * @param array $sidebars the `sidebars_widgets` option: sidebar id → widget ids
     * @param array $blocks the `widget_block` option: number → ['content' => block markup]
     * @param null|list<string> $registered sidebars the theme shows; null: every active one
     * @return list<string>
     */
    public static function tags(array $sidebars, array $blocks, ?array $registered = null): array
    {
        $tags = [];
        foreach ($sidebars as $sidebar => $widgets) {
            if ($sidebar === 'wp_inactive_widgets' || !is_array($widgets)
                || ($registered !== null && !in_array($sidebar, $registered, true))) {
                continue;
            }
            foreach ($widgets as $widgetId) {
                if (!is_string($widgetId) || !preg_match('/^(.+)-(\d+)$/', $widgetId, $m)) {
                    continue;
                }
                if (isset(self::CLASSIC[$m[1]])) {
                    $tags[self::CLASSIC[$m[1]]] = true;
                } elseif ($m[1] === 'block') {
                    $content = $blocks[(int) $m[2]]['content'] ?? '';
                    foreach (self::BLOCKS as $name => $tag) {
                        if (is_string($content) && preg_match('#<!-- wp:(?:core/)?' . preg_quote($name, '#') . '[\s/]#', $content)) {
                            $tags[$tag] = true;
                        }
                    }
                }
            }
        }
        return array_keys($tags);
    }

    /** The tags of this site's sidebars, from its options (autoloaded: no query). @return list<string> */
    public static function forSite(): array
    {
        $sidebars = get_option('sidebars_widgets', []);
        $blocks = get_option('widget_block', []);
        $registered = isset($GLOBALS['wp_registered_sidebars']) && is_array($GLOBALS['wp_registered_sidebars'])
            ? array_map('strval', array_keys($GLOBALS['wp_registered_sidebars']))
            : null;
        return self::tags(is_array($sidebars) ? $sidebars : [], is_array($blocks) ? $blocks : [], $registered);
    }
}
