<?php
/**
 * Sends real webhooks to a running cache-purger through the plugin's own code path (hooks →
 * shutdown → Client::request), plus a tampered and a replayed one, and a change whose first answer
 * is lost (accepted, but the plugin saw a timeout) and is delivered again by the retry event.
 * Prints one JSON line: {"plugin", "tampered", "first", "replayed": <status>, "queued": <n>,
 * "lost": {"accepted", "retried": <status>, "sameEvent", "sameJob", "duplicate": <bool>, "queued": <n>}}.
 * Env: FARM_SITE_ID, FARM_PURGER_URL, FARM_WEBHOOK_SECRET_REF and the variable it names.
 * WordPress itself is not installed here: the hooks run on the shims in wp-shims.php.
 */

declare(strict_types=1);

require __DIR__ . '/wp-shims.php';
$plugin = __DIR__ . '/../mu-plugins/farm-cache-purge';
foreach (['Config', 'Signer', 'UrlSet', 'Widgets', 'Tags', 'RetryQueue', 'Client', 'Plugin'] as $f) {
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
    $answer = Client::request($url, $headers, $body, $config->timeoutSeconds);
    $statuses[] = $answer[0];
    return $answer;
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
    'queued' => count((new FarmCachePurge\RetryQueue())->jobs(100)),
    'lost' => lostAnswer($config),
]), "\n";

/**
 * A change the purger accepted whose answer never reached WordPress (a timeout after the purger
 * had queued it): the plugin queues it, and the short retry event resends it signed afresh with the
 * same event id; the purger must answer with the first job, not queue a second one.
 */
function lostAnswer(Config $config): array
{
    shim_reset(); // only this plugin's hooks from here on
    $answers = [];
    $client = new Client($config, function (string $url, array $headers, string $body) use (&$answers, $config) {
        [$status, $answer] = Client::request($url, $headers, $body, $config->timeoutSeconds);
        $answers[] = ['status' => $status, 'answer' => json_decode($answer, true), 'event' => json_decode($body, true)['event'] ?? null];
        return count($answers) === 1 ? 0 : [$status, $answer]; // the first answer is lost
    });
    $p = new Plugin($config, $client);
    $p->register();
    shim_add_post(new WP_Post(['ID' => 14, 'post_name' => 'lost-answer']));
    do_action('save_post', 14);
    do_action('shutdown');
    $queued = count((new FarmCachePurge\RetryQueue())->jobs(100));
    shim_run_cron(Client::RETRY_SOON);
    [$first, $retry] = $answers + [null, null];
    return [
        'accepted' => $first['status'] ?? null,
        'queuedAfterTimeout' => $queued,
        'retried' => $retry['status'] ?? null,
        'sameEvent' => $first !== null && $retry !== null && $first['event'] === $retry['event'],
        'sameJob' => isset($first['answer']['job'], $retry['answer']['job']) && $first['answer']['job'] === $retry['answer']['job'],
        'duplicate' => ($retry['answer']['duplicate'] ?? false) === true,
        'queued' => count((new FarmCachePurge\RetryQueue())->jobs(100)),
    ];
}
