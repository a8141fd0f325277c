<?php
/**
 * Runs PHP code (from stdin) inside one farm site's WordPress as its admin, the mu-plugin loaded:
 * the end-to-end tests use it for what WordPress's REST API cannot do (permalinks, untrash).
 *   FARM_WP_SITE=<id> php eval.php <core dir> <host> < code.php   → the code's return value as JSON
 */

declare(strict_types=1);

[$self, $core, $host] = array_pad($argv, 3, '');
$_SERVER['HTTP_HOST'] = $host;
$_SERVER['SERVER_NAME'] = $host;
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PORT'] = '80';
require $core . '/wp-load.php';
wp_set_current_user(1);
$code = stream_get_contents(STDIN);
$result = eval($code);
echo json_encode($result), "\n";
