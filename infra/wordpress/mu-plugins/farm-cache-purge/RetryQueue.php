<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * The purges waiting for the purger, one row of the options table each (never autoloaded), so that
 * PHP requests queueing and sending at the same time never read-modify-write a shared value.
 *
 * - Adding is one INSERT under a name no other request draws (the time in µs, then random bytes):
 *   two requests queueing at once add two rows. (`add_option()` would not do: it upserts.)
 * - Sending starts with a claim: an UPDATE of the row's value that holds only while the value is
 *   still the one read (compare-and-swap, the affected-rows count says who won). Only the request
 *   whose UPDATE changed the row sends it; the others skip it. The claim is a lease: a request
 *   that dies while sending (killed, out of time) leaves a row that another request may claim once
 *   the lease has run out, so a purge is never lost, and its event id lets the purger answer such a
 *   second delivery with the first job.
 * - A delivered row is deleted, a failed one released (its lease cleared), each only if the row
 *   still holds this request's claim.
 *
 * Row value (JSON): {"since": <unix time queued>, "lease": <unix time the claim ends, 0 if none>,
 * "claim": <this claim's random id>, "purge": <the webhook body, event id included>}.
 */
final class RetryQueue
{
    public const PREFIX = 'farm_cache_purge_q_';
    /** The single option that held the whole queue before (read-modify-write); moved on first run. */
    public const LEGACY_OPTION = 'farm_cache_purge_retry';
    /** Seconds a claim holds: far above one webhook's timeout (2 s), so only a dead sender loses it. */
    public const LEASE = 30;

    private static int $lastMicros = 0;

    /** @param null|object $db a wpdb; default the global one, looked up on use */
    public function __construct(private ?object $db = null)
    {
    }

    /** Queues one purge; returns the row's name, '' when the database refused it (logged). */
    public function add(array $purge, int $now): string
    {
        // Names sort in the order purges were queued: the time in µs (strictly increasing within
        // this request), then random bytes that keep two requests' rows apart.
        self::$lastMicros = max((int) floor(microtime(true) * 1e6), self::$lastMicros + 1);
        $name = self::PREFIX . sprintf('%016d', self::$lastMicros) . '_' . bin2hex(random_bytes(6));
        $ok = $this->db()->insert($this->db()->options, [
            'option_name' => $name,
            'option_value' => self::encode(['since' => $now, 'lease' => 0, 'claim' => '', 'purge' => $purge]),
            'autoload' => 'no',
        ]);
        if (!$ok) {
            Client::log('could not queue a purge (event ' . ($purge['event'] ?? '-') . '): the database refused the row'
                . ' (' . ($this->db()->last_error ?? '') . '); the changed pages stay stale until their cache TTL');
            return '';
        }
        return $name;
    }

    /**
     * The queued purges, oldest first, at most $limit.
     *
     * @return list<array{name: string, raw: string, since: int, lease: int, purge: array}>
     */
    public function jobs(int $limit): array
    {
        $db = $this->db();
        $rows = $db->get_results($db->prepare(
            "SELECT option_name, option_value FROM {$db->options} WHERE option_name LIKE %s ORDER BY option_name LIMIT %d",
            $db->esc_like(self::PREFIX) . '%',
            $limit,
        ), ARRAY_A);
        $jobs = [];
        foreach (is_array($rows) ? $rows : [] as $row) {
            $v = json_decode((string) $row['option_value'], true);
            if (!is_array($v) || !is_array($v['purge'] ?? null)) {
                // Not ours to read (damaged): dropped, with a trace, rather than blocking the queue.
                $this->delete((string) $row['option_name'], (string) $row['option_value']);
                Client::log('dropped an unreadable queue row ' . $row['option_name']);
                continue;
            }
            $jobs[] = ['name' => (string) $row['option_name'], 'raw' => (string) $row['option_value'],
                'since' => (int) ($v['since'] ?? 0), 'lease' => (int) ($v['lease'] ?? 0), 'purge' => $v['purge']];
        }
        return $jobs;
    }

    /** Whether another request holds a live claim on this job (it is being sent right now). */
    public static function leased(array $job, int $now): bool
    {
        return $job['lease'] > $now;
    }

    /** Claims a job for this request; null when another request changed it first. */
    public function claim(array $job, int $now): ?array
    {
        $raw = self::encode(['since' => $job['since'], 'lease' => $now + self::LEASE, 'claim' => bin2hex(random_bytes(8)), 'purge' => $job['purge']]);
        return $this->swap($job['name'], $job['raw'], $raw) ? ['raw' => $raw] + $job : null;
    }

    /** A claimed job was delivered (or refused for good): its row goes, if it is still this claim. */
    public function done(array $claimed): void
    {
        $this->delete($claimed['name'], $claimed['raw']);
    }

    /** A claimed job could not be sent: back in the queue for the next attempt. */
    public function release(array $claimed): void
    {
        $this->swap($claimed['name'], $claimed['raw'], self::encode(['since' => $claimed['since'], 'lease' => 0, 'claim' => '', 'purge' => $claimed['purge']]));
    }

    /** Removes a job whatever its state (it is covered by a site-wide purge queued after it). */
    public function drop(array $job): bool
    {
        return $this->delete($job['name']);
    }

    /**
     * Moves a queue left in the single option of earlier versions to one row per purge, once. The
     * rows are added first, then the option is deleted only if it still holds what was read; a
     * request that loses that race (another one moved it, or an older node still appends to it)
     * takes its rows back. Purges without an event id (the oldest format) get one derived from
     * their content, so a purge moved by two requests at once is still accepted once.
     *
     * @return int how many purges were moved
     */
    public function migrateLegacy(int $now): int
    {
        if (function_exists('wp_cache_delete')) {
            wp_cache_delete(self::LEGACY_OPTION, 'options');
        }
        $old = get_option(self::LEGACY_OPTION, null);
        if ($old === null) {
            return 0;
        }
        $items = is_array($old) && is_array($old['items'] ?? null) ? $old['items'] : (is_array($old) ? $old : []);
        $since = is_array($old) && isset($old['since']) ? (int) $old['since'] : $now;
        $added = [];
        foreach (array_values($items) as $i => $purge) {
            if (!is_array($purge)) {
                continue;
            }
            $purge['event'] ??= 'm' . substr(hash('sha256', $i . ':' . json_encode($purge)), 0, 23);
            $added[] = $name = $this->add($purge, $since);
            if ($name === '') {
                break;
            }
        }
        if (in_array('', $added, true) || !$this->delete(self::LEGACY_OPTION, maybe_serialize($old))) {
            foreach (array_filter($added) as $name) {
                $this->delete($name);
            }
            return 0;
        }
        if (function_exists('wp_cache_delete')) {
            wp_cache_delete(self::LEGACY_OPTION, 'options');
        }
        if ($added !== []) {
            Client::log('moved ' . count($added) . ' queued purge(s) from the option ' . self::LEGACY_OPTION . ' to one row each');
        }
        return count($added);
    }

    private function swap(string $name, string $old, string $new): bool
    {
        $db = $this->db();
        return (int) $db->update($db->options, ['option_value' => $new], ['option_name' => $name, 'option_value' => $old]) === 1;
    }

    private function delete(string $name, ?string $value = null): bool
    {
        $db = $this->db();
        $where = ['option_name' => $name] + ($value === null ? [] : ['option_value' => $value]);
        return (int) $db->delete($db->options, $where) === 1;
    }

    private static function encode(array $row): string
    {
        // ASCII only (unicode escaped): stored and compared byte for byte whatever the table's charset.
        return (string) json_encode($row, JSON_UNESCAPED_SLASHES);
    }

    private function db(): object
    {
        return $this->db ?? $GLOBALS['wpdb'];
    }
}
