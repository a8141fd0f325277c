<?php
/**
 * Plugin Name: Farm cache purge
 * Description: Sends one signed purge webhook per request to the farm's cache-purger (every Varnish
 *              node, then the edge) and tags pages with xkey / Cache-Tag headers.
 * Version:     0.2.0
 * Requires PHP: 8.2
 *
 * Must-use plugin: copy this file and the farm-cache-purge/ folder into wp-content/mu-plugins/.
 * Settings (constants in wp-config.php, or environment variables of the same name; php-fpm's
 * default clear_env = yes drops environment variables, so prefer constants and a secret file):
 *   FARM_SITE_ID              the site's id in the farm registry (also the tag prefix)
 *   FARM_PURGER_URL           e.g. http://cache-purger:8070
 *   FARM_PURGE_SECRET         the webhook secret, or:
 *   FARM_PURGE_SECRET_FILE    a file holding it, or:
 *   FARM_WEBHOOK_SECRET_REF   name of the env var or Docker secret (/run/secrets/<ref>) with the secret
 *   FARM_PURGE_PAGES          archive pages purged after a change (default 3)
 * See infra/wordpress/README.md.
 */

declare(strict_types=1);

if (!defined('ABSPATH')) {
    return;
}

require_once __DIR__ . '/farm-cache-purge/Config.php';
require_once __DIR__ . '/farm-cache-purge/Signer.php';
require_once __DIR__ . '/farm-cache-purge/UrlSet.php';
require_once __DIR__ . '/farm-cache-purge/Widgets.php';
require_once __DIR__ . '/farm-cache-purge/Tags.php';
require_once __DIR__ . '/farm-cache-purge/RetryQueue.php';
require_once __DIR__ . '/farm-cache-purge/Client.php';
require_once __DIR__ . '/farm-cache-purge/Plugin.php';

FarmCachePurge\Plugin::boot(FarmCachePurge\Config::fromEnvironment());
