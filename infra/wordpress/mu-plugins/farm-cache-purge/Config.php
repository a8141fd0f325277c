<?php

declare(strict_types=1);

namespace FarmCachePurge;

/** The plugin's settings, read once: constants first, then environment variables, then Docker secrets. */
final class Config
{
    public function __construct(
        public readonly string $siteId,
        public readonly string $purgerUrl,
        public readonly string $secret,
        public readonly int $pages = 3,
        public readonly float $timeoutSeconds = 2.0,
        /** Queued webhooks kept in the retry option before they collapse into one site-wide purge. */
        public readonly int $maxQueued = 50,
    ) {
    }

    public static function fromEnvironment(): self
    {
        $get = static function (string $name, string $default = ''): string {
            if (defined($name)) {
                return (string) constant($name);
            }
            $v = getenv($name);
            return $v === false ? $default : $v;
        };
        $ref = $get('FARM_WEBHOOK_SECRET_REF');
        $secret = '';
        if ($ref !== '' && preg_match('/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/', $ref)) {
            $env = getenv($ref);
            if ($env !== false && $env !== '') {
                $secret = trim($env);
            } elseif (is_readable('/run/secrets/' . $ref)) {
                $secret = trim((string) file_get_contents('/run/secrets/' . $ref));
            }
        }
        return new self(
            $get('FARM_SITE_ID'),
            rtrim($get('FARM_PURGER_URL'), '/'),
            $secret,
            max(1, min(20, (int) $get('FARM_PURGE_PAGES', '3'))),
        );
    }

    /** True when the plugin can send webhooks; otherwise it only tags pages. */
    public function canSend(): bool
    {
        return $this->siteId !== '' && $this->purgerUrl !== '' && $this->secret !== '';
    }
}
