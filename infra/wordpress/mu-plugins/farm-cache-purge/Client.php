<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * Sends a purge webhook to the cache-purger, with a retry queue kept in a WordPress option for
 * when the purger is unreachable or answers 503 (its Redis is down). A 202 means the purge is
 * durable; 4xx means the request itself is wrong and retrying cannot help (logged, dropped).
 */
final class Client
{
    public const OPTION = 'farm_cache_purge_retry';

    /** @param null|callable(string, array<string,string>, string): int $transport for tests; default curl */
    public function __construct(private Config $config, private $transport = null)
    {
    }

    /** Sends (or queues) one purge; returns the HTTP status, 0 when unreachable. */
    public function send(array $purge): int
    {
        $status = $this->post($purge);
        if ($status === 0 || $status === 429 || $status >= 500) {
            $this->enqueue($purge);
        } elseif ($status !== 202) {
            error_log('farm-cache-purge: purger refused a purge with HTTP ' . $status . '; dropped');
        }
        return $status;
    }

    /** Resends queued purges (signed afresh); keeps those that still fail. Returns how many are left. */
    public function retryQueued(): int
    {
        $queue = get_option(self::OPTION, []);
        if (!is_array($queue) || $queue === []) {
            return 0;
        }
        $left = [];
        foreach ($queue as $i => $purge) {
            $status = $this->post($purge);
            if ($status === 0 || $status === 429 || $status >= 500) {
                // Still down: keep this one and everything after it, in order.
                $left = array_slice($queue, $i);
                break;
            }
        }
        update_option(self::OPTION, $left, false);
        return count($left);
    }

    private function enqueue(array $purge): void
    {
        $queue = get_option(self::OPTION, []);
        $queue = is_array($queue) ? $queue : [];
        $queue[] = $purge;
        if (count($queue) > $this->config->maxQueued) {
            // Too much to remember: one site-wide purge covers all of it.
            $queue = [['site' => $this->config->siteId, 'all' => true]];
        }
        update_option(self::OPTION, $queue, false);
    }

    private function post(array $purge): int
    {
        $body = (string) json_encode($purge, JSON_UNESCAPED_SLASHES);
        $headers = ['content-type' => 'application/json'] + Signer::sign($this->config->secret, $body);
        $headers += self::traceHeaders();
        $url = $this->config->purgerUrl . '/v1/purge';
        if ($this->transport) {
            return ($this->transport)($url, $headers, $body);
        }
        return self::curl($url, $headers, $body, $this->config->timeoutSeconds);
    }

    /** Forwards the incoming traceparent, so the purge spans link to the editor's request. */
    private static function traceHeaders(): array
    {
        $tp = $_SERVER['HTTP_TRACEPARENT'] ?? '';
        return is_string($tp) && preg_match('/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/', $tp) ? ['traceparent' => $tp] : [];
    }

    public static function curl(string $url, array $headers, string $body, float $timeout): int
    {
        $ch = curl_init($url);
        $lines = [];
        foreach ($headers as $k => $v) {
            $lines[] = $k . ': ' . $v;
        }
        curl_setopt_array($ch, [
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $lines,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT_MS => (int) min(1000, $timeout * 1000),
            CURLOPT_TIMEOUT_MS => (int) ($timeout * 1000),
            CURLOPT_NOSIGNAL => true,
        ]);
        $ok = curl_exec($ch);
        $status = $ok === false ? 0 : (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        return $status;
    }
}
