<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * Sends a purge webhook to the cache-purger, with a retry queue (RetryQueue: one options row per
 * purge) for when the purger is unreachable, answers 429 or 5xx (503: its Redis is down). A 202
 * means the purge is durable; another 4xx means the request itself is wrong and retrying cannot
 * help (logged, dropped).
 *
 * Each purge carries an `event` id, drawn once when the change is first sent and kept in the queue
 * for every retry (each retry is signed afresh, with a new nonce). The purger accepts a (site,
 * event) once and answers a repeat with the first job's id, so a webhook that timed out but was in
 * fact accepted is never queued twice.
 */
final class Client
{
    /** The short retry event, scheduled while the queue is not empty. */
    public const RETRY_SOON = 'farm_cache_purge_retry_soon';
    /** Seconds between retries: the first soon, then backing off to at most MAX_DELAY. */
    public const MIN_DELAY = 10;
    /**
     * Below a minute, so queued purges reach the purger within a minute of its return, as long as
     * WP-cron runs (it runs on page loads that reach PHP, or from a system cron).
     */
    public const MAX_DELAY = 50;

    private RetryQueue $queue;

    /**
     * @param null|callable(string, array<string,string>, string): (int|array{0:int,1:string}) $transport
     *        for tests: the status, or the status and the response body; default curl
     * @param null|callable(): int $clock for tests; default time()
     */
    public function __construct(private Config $config, private $transport = null, private $clock = null, ?RetryQueue $queue = null)
    {
        $this->queue = $queue ?? new RetryQueue();
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
     * Resends queued purges, oldest first (signed afresh, same event ids), each claimed first so
     * that requests draining at the same time never send the same one; stops at the first that
     * still fails, and schedules the next attempt while any are left. Returns how many are left.
     */
    public function retryQueued(): int
    {
        $this->queue->migrateLegacy($this->now());
        $jobs = $this->queue->jobs($this->limit());
        if ($jobs === []) {
            return 0;
        }
        $delivered = 0;
        $failed = null;
        foreach ($jobs as $job) {
            // Being sent by another request, or taken by one since the list was read: theirs.
            $claimed = RetryQueue::leased($job, $this->now()) ? null : $this->queue->claim($job, $this->now());
            if ($claimed === null) {
                continue;
            }
            [$status, $body] = $this->post($claimed['purge']);
            if (self::retryable($status)) {
                // Still down: this one back in the queue, the rest left for the next attempt.
                $this->queue->release($claimed);
                $failed = $status;
                break;
            }
            $this->queue->done($claimed);
            $this->report($claimed['purge'], $status, $body);
            $delivered++;
        }
        if ($delivered > 0) {
            self::log('queued purges delivered (' . $delivered . ')');
        }
        $left = $this->queue->jobs($this->limit());
        if ($left === [] && function_exists('wp_clear_scheduled_hook')) {
            wp_clear_scheduled_hook(self::RETRY_SOON);
            // A request may have queued between the count and the clear: look again.
            $left = $this->queue->jobs($this->limit());
        }
        if ($left !== []) {
            $delay = $this->scheduleRetry($left[0]['since']);
            if ($failed !== null) {
                self::log('purger still unavailable (' . self::describe($failed) . '); ' . count($left)
                    . ' purge(s) queued, next attempt in ' . $delay . ' s');
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

    /**
     * Queues a purge that could not be sent. A queued site-wide purge no request has claimed yet
     * covers this change: it will purge what is cached when it is delivered, which is after this
     * change was made (one being sent right now may be delivered before, so it does not count).
     * Past `maxQueued` the queue collapses into one site-wide purge: added first, then the purges
     * listed before it removed (each was queued before it, so it covers them).
     */
    private function enqueue(array $purge, int $status): void
    {
        $now = $this->now();
        $this->queue->migrateLegacy($now);
        $jobs = $this->queue->jobs($this->limit());
        $covering = array_filter($jobs, static fn ($j) => ($j['purge']['all'] ?? false) === true && !RetryQueue::leased($j, $now));
        if ($covering !== []) {
            $what = 'covered by the queued site-wide purge (event ' . (reset($covering)['purge']['event'] ?? '-') . ')';
        } elseif (count($jobs) + 1 > $this->config->maxQueued) {
            // Too much to remember: one site-wide purge covers all of it.
            $all = ['site' => $this->config->siteId, 'all' => true, 'event' => self::newEvent()];
            if ($this->queue->add($all, $jobs[0]['since'] ?? $now) === '') {
                return;
            }
            foreach ($jobs as $j) {
                $this->queue->drop($j);
            }
            $what = 'over ' . $this->config->maxQueued . ' queued: ' . (count($jobs) + 1)
                . ' purges collapsed into one site-wide purge (event ' . $all['event'] . ')';
        } else {
            if ($this->queue->add($purge, $now) === '') {
                return;
            }
            $what = (count($jobs) + 1) . ' waiting';
        }
        $delay = $this->scheduleRetry($jobs[0]['since'] ?? $now);
        self::log('purger unavailable (' . self::describe($status) . '); purge queued (event ' . $purge['event']
            . ', ' . $what . '), next attempt in ' . $delay . ' s');
    }

    /** Enough rows to see past the bound: the queue holds at most maxQueued, a few more in a race. */
    private function limit(): int
    {
        return $this->config->maxQueued + 10;
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
