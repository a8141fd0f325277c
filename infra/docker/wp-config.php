<?php
/**
 * The farm's wp-config.php, baked into the php image (wordpress.Dockerfile). Replaces the official
 * image's generated one because that one draws random salts per container: with two or more
 * replicas a login cookie from one replica is refused by the next. Here the salts come from the
 * site's secret `wp_salts_<id>` (PHP `define` lines, see infra/README.md "Adding a site"), the
 * same on every replica; the database settings from the environment, passwords from *_FILE.
 */

function farm_setting(string $name, string $default = ''): string
{
    $file = getenv($name . '_FILE');
    if (is_string($file) && $file !== '') {
        $value = file_get_contents($file);
        if ($value === false) {
            throw new RuntimeException("cannot read {$name}_FILE ({$file})");
        }
        return rtrim($value, "\r\n");
    }
    $value = getenv($name);
    return is_string($value) ? $value : $default;
}

define('DB_NAME', farm_setting('WORDPRESS_DB_NAME'));
define('DB_USER', farm_setting('WORDPRESS_DB_USER'));
define('DB_PASSWORD', farm_setting('WORDPRESS_DB_PASSWORD'));
define('DB_HOST', farm_setting('WORDPRESS_DB_HOST'));
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
$table_prefix = 'wp_';

// AUTH_KEY, SECURE_AUTH_KEY, LOGGED_IN_KEY, NONCE_KEY and their *_SALT: one secret per site.
require farm_setting('WORDPRESS_SALTS_FILE', '/run/secrets/wp_salts');

// The farm's mu-plugin lives in the image, outside wp-content (a volume can never shadow it).
define('WPMU_PLUGIN_DIR', '/opt/wpfarm/mu-plugins');
define('WPMU_PLUGIN_URL', '/wpfarm-mu-plugins');

// TLS ends at the edge; the visitor's scheme arrives as X-Forwarded-Proto (set by Traefik).
if (($_SERVER['HTTP_X_FORWARDED_PROTO'] ?? '') === 'https') {
    $_SERVER['HTTPS'] = 'on';
}

define('WP_DEBUG', false);

if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
