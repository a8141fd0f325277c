<?php
/**
 * Sends real webhooks to a running cache-purger through the plugin's own code path (hooks →
 * shutdown → Client::curl), plus a tampered and a replayed one. Prints one JSON line:
 * {"plugin": <status>, "tampered": <status>, "replayed": <status>, "queued": <n>}.
 * Env: FARM_SITE_ID, FARM_PURGER_URL, FARM_WEBHOOK_SECRET_REF and the variable it names.
 * WordPress itself is not installed here: the hooks run on the shims in wp-shims.php.
 */

declare(strict_types=1);

require __DIR__ . '/wp-shims.php';
$plugin = __DIR__ . '/../mu-plugins/farm-cache-purge';
foreach (['Config', 'Signer', 'UrlSet', 'Tags', 'Client', 'Plugin'] as $f) {
    require_once "$plugin/$f.php";
}

use FarmCachePurge\Client;
use FarmCachePurge\Config;
use FarmCachePurge\Plugin;
use FarmCachePurge\Signer;

$config = Config::fromEnvironment();
if (!$config->canSend()) {
    fwrite(STDERR, "FARM_SITE_ID, FARM_PURGER_URL and the secret are required\n");
    exit(2);
}
$statuses = [];
$client = new Client($config, function (string $url, array $headers, string $body) use (&$statuses, $config) {
    $s = Client::curl($url, $headers, $body, $config->timeoutSeconds);
    $statuses[] = $s;
    return $s;
});
$p = new Plugin($config, $client);
$p->register();
shim_add_post(new WP_Post(['ID' => 12, 'post_name' => 'hello-world']), ['category' => [3], 'post_tag' => [7]]);
do_action('save_post', 12);
do_action('shutdown');

$url = $config->purgerUrl . '/v1/purge';
$body = json_encode(['site' => $config->siteId, 'tags' => [$config->siteId . '-p-12']]);
$headers = ['content-type' => 'application/json'] + Signer::sign($config->secret, $body);
$tampered = Client::curl($url, $headers, str_replace('p-12', 'p-13', $body), 2.0);
$first = Client::curl($url, $headers, $body, 2.0);
$replayed = Client::curl($url, $headers, $body, 2.0);

echo json_encode([
    'plugin' => $statuses[0] ?? null,
    'tampered' => $tampered,
    'first' => $first,
    'replayed' => $replayed,
    'queued' => count(get_option(Client::OPTION, [])),
]), "\n";
