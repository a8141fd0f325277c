<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * Sends a purge webhook to the cache-purger, with a retry queue kept in a WordPress option for
 * when the purger is unreachable, answers 429 or 5xx (503: its Redis is down). A 202 means the
 * purge is durable; another 4xx means the request itself is wrong and retrying cannot help (logged,
 * dropped).
 *
 * Each purge carries an `event` id, drawn once when the change is first sent and kept in the queue
 * for every retry (each retry is signed afresh, with a new nonce). The purger accepts a (site,
 * event) once and answers a repeat with the first job's id, so a webhook that timed out but was in
 * fact accepted is never queued twice.
 */
final class Client
{
    public const OPTION = 'farm_cache_purge_retry';
    /** The short retry event, scheduled while the queue is not empty. */
    public const RETRY_SOON = 'farm_cache_purge_retry_soon';
    /** Seconds between retries: the first soon, then backing off to at most MAX_DELAY. */
    public const MIN_DELAY = 10;
    /**
     * Below a minute, so queued purges reach the purger within a minute of its return, as long as
     * WP-cron runs (it runs on page loads that reach PHP, or from a system cron).
     */
    public const MAX_DELAY = 50;

    /**
     * @param null|callable(string, array<string,string>, string): (int|array{0:int,1:string}) $transport
     *        for tests: the status, or the status and the response body; default curl
     * @param null|callable(): int $clock for tests; default time()
     */
    public function __construct(private Config $config, private $transport = null, private $clock = null)
    {
    }

    /** Sends (or queues) one purge; returns the HTTP status, 0 when unreachable. */
    public function send(array $purge): int
    {
        $purge['event'] ??= self::newEvent();
        [$status, $body] = $this->post($purge);
        if (self::retryable($status)) {
            $this->enqueue($purge, $status);
        } else {
            $this->report($purge, $status, $body);
        }
        return $status;
    }

    /**
     * Resends queued purges in order (signed afresh, same event ids); keeps those from the first one
     * that still fails, and schedules the next attempt while any are left. Returns how many are left.
     */
    public function retryQueued(): int
    {
        $state = $this->queue();
        if ($state['items'] === []) {
            return 0;
        }
        $left = [];
        $lastStatus = 202;
        foreach ($state['items'] as $i => $purge) {
            [$status, $body] = $this->post($purge);
            if (self::retryable($status)) {
                // Still down: keep this one and everything after it, in order.
                $left = array_slice($state['items'], $i);
                $lastStatus = $status;
                break;
            }
            $this->report($purge, $status, $body);
        }
        // Sending took a while (up to the timeout per purge): keep what other requests queued
        // meanwhile, which a plain write of $left would erase.
        $known = array_flip(array_map(static fn ($q) => (string) ($q['event'] ?? ''), $state['items']));
        foreach ($this->queue(true)['items'] as $q) {
            if (!isset($known[(string) ($q['event'] ?? '')])) {
                $left[] = $q;
            }
        }
        $this->save($left === [] ? null : ['since' => $state['since'], 'items' => $left]);
        if ($left !== []) {
            $delay = $this->scheduleRetry($state['since']);
            self::log('purger still unavailable (' . self::describe($lastStatus) . '); ' . count($left)
                . ' purge(s) queued, next attempt in ' . $delay . ' s');
        } else {
            self::log('queued purges delivered (' . count($state['items']) . ')');
            if (function_exists('wp_clear_scheduled_hook')) {
                wp_clear_scheduled_hook(self::RETRY_SOON);
            }
        }
        return count($left);
    }

    /** Seconds until the next retry when the oldest queued purge is `$age` seconds old. */
    public static function backoff(int $age): int
    {
        // Half the outage so far: quick after a blip, one request per site every MAX_DELAY during a
        // long outage (500 sites → 10 requests a second to a purger that is down).
        return max(self::MIN_DELAY, min(self::MAX_DELAY, intdiv(max(0, $age), 2)));
    }

    /** A fresh id for one change: 24 hex characters, within the contract's ^[A-Za-z0-9_-]{8,64}$. */
    public static function newEvent(): string
    {
        return bin2hex(random_bytes(12));
    }

    private static function retryable(int $status): bool
    {
        return $status === 0 || $status === 408 || $status === 429 || $status >= 500;
    }

    private function enqueue(array $purge, int $status): void
    {
        $state = $this->queue();
        $since = $state['items'] === [] ? $this->now() : $state['since'];
        $items = $state['items'];
        // A queued site-wide purge covers every later change too: it purges what is cached when it
        // is delivered, which is after this change was made.
        $covered = array_filter($items, static fn ($q) => ($q['all'] ?? false) === true) !== [];
        if (!$covered) {
            $items[] = $purge;
        }
        if (count($items) > $this->config->maxQueued) {
            // Too much to remember: one site-wide purge covers all of it.
            $items = [['site' => $this->config->siteId, 'all' => true, 'event' => self::newEvent()]];
        }
        $this->save(['since' => $since, 'items' => $items]);
        $delay = $this->scheduleRetry($since);
        self::log('purger unavailable (' . self::describe($status) . '); purge queued (event ' . $purge['event']
            . ', ' . count($items) . ' waiting), next attempt in ' . $delay . ' s');
    }

    /** Schedules the short retry unless one is already due; returns the delay in seconds. */
    private function scheduleRetry(int $since): int
    {
        $delay = self::backoff($this->now() - $since);
        if (function_exists('wp_next_scheduled') && !wp_next_scheduled(self::RETRY_SOON)) {
            wp_schedule_single_event($this->now() + $delay, self::RETRY_SOON);
        }
        return $delay;
    }

    /** Logs what the purger answered to a purge that is not retried. */
    private function report(array $purge, int $status, string $body): void
    {
        if ($status === 202) {
            $answer = json_decode($body, true);
            $job = is_array($answer) && is_string($answer['job'] ?? null) ? $answer['job'] : '?';
            $dup = is_array($answer) && ($answer['duplicate'] ?? false) === true ? ' (a retry of an accepted change)' : '';
            self::log('purge accepted as job ' . $job . $dup . ', event ' . ($purge['event'] ?? '-'));
            return;
        }
        $why = json_decode($body, true);
        $code = is_array($why) && is_string($why['code'] ?? null) ? ' ' . $why['code'] : '';
        self::log('purger refused a purge with HTTP ' . $status . $code . ', event ' . ($purge['event'] ?? '-') . '; dropped');
    }

    /**
     * @param bool $fresh read the database, not this request's copy of the option
     * @return array{since: int, items: list<array>}
     */
    private function queue(bool $fresh = false): array
    {
        if ($fresh && function_exists('wp_cache_delete')) {
            wp_cache_delete(self::OPTION, 'options');
        }
        $q = get_option(self::OPTION, []);
        if (is_array($q) && isset($q['items']) && is_array($q['items'])) {
            return ['since' => (int) ($q['since'] ?? $this->now()), 'items' => array_values($q['items'])];
        }
        // The queue of earlier versions: a plain list of purges, without event ids.
        return ['since' => $this->now(), 'items' => is_array($q) ? array_values($q) : []];
    }

    private function save(?array $state): void
    {
        // Not autoloaded: read only on failures, retries and after a successful webhook.
        update_option(self::OPTION, $state ?? [], false);
    }

    private function now(): int
    {
        return $this->clock ? ($this->clock)() : time();
    }

    /** @return array{0: int, 1: string} */
    private function post(array $purge): array
    {
        $body = (string) json_encode($purge, JSON_UNESCAPED_SLASHES);
        $headers = ['content-type' => 'application/json'] + Signer::sign($this->config->secret, $body);
        $headers += self::traceHeaders();
        $url = $this->config->purgerUrl . '/v1/purge';
        $answer = $this->transport
            ? ($this->transport)($url, $headers, $body)
            : self::request($url, $headers, $body, $this->config->timeoutSeconds);
        return is_array($answer) ? [(int) $answer[0], (string) $answer[1]] : [(int) $answer, ''];
    }

    private static function describe(int $status): string
    {
        return $status === 0 ? 'unreachable or timed out' : 'HTTP ' . $status;
    }

    public static function log(string $message): void
    {
        error_log('farm-cache-purge: ' . $message);
    }

    /** Forwards the incoming traceparent, so the purge spans link to the editor's request. */
    private static function traceHeaders(): array
    {
        $tp = $_SERVER['HTTP_TRACEPARENT'] ?? '';
        return is_string($tp) && preg_match('/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/', $tp) ? ['traceparent' => $tp] : [];
    }

    /** The status of a POST, 0 when unreachable or timed out. */
    public static function curl(string $url, array $headers, string $body, float $timeout): int
    {
        return self::request($url, $headers, $body, $timeout)[0];
    }

    /** @return array{0: int, 1: string} the status (0 when unreachable or timed out) and the body */
    public static function request(string $url, array $headers, string $body, float $timeout): array
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
        $out = curl_exec($ch);
        $status = $out === false ? 0 : (int) curl_getinfo($ch, CURLINFO_RESPONSE_CODE);
        curl_close($ch);
        return [$status, is_string($out) ? $out : ''];
    }
}
