<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * The plugin's settings, read once per request: a constant in wp-config.php first, then the
 * environment. The secret may come from a constant, a file or the environment, because php-fpm's
 * default `clear_env = yes` drops every environment variable the pool does not list: a plugin that
 * read only the environment sent nothing under a stock php-fpm, and said nothing.
 */
final class Config
{
    public function __construct(
        public readonly string $siteId,
        public readonly string $purgerUrl,
        public readonly string $secret,
        public readonly int $pages = 3,
        public readonly float $timeoutSeconds = 2.0,
        /** Queued webhooks (one options row each) before they collapse into one site-wide purge. */
        public readonly int $maxQueued = 50,
        /** Why the secret could not be read (a path or a name, never the secret), '' when it was. */
        public readonly string $secretProblem = '',
    ) {
    }

    public static function fromEnvironment(): self
    {
        [$secret, $problem] = self::readSecret(self::setting(...));
        return new self(
            self::setting('FARM_SITE_ID'),
            rtrim(self::setting('FARM_PURGER_URL'), '/'),
            $secret,
            max(1, min(20, (int) self::setting('FARM_PURGE_PAGES', '3'))),
            secretProblem: $problem,
        );
    }

    /** A constant of that name, else the environment variable, else the default. */
    public static function setting(string $name, string $default = ''): string
    {
        if (defined($name)) {
            return trim((string) constant($name));
        }
        $v = getenv($name);
        return $v === false ? $default : trim($v);
    }

    /**
     * The webhook secret, from the first source set, in this order: `FARM_PURGE_SECRET` (the value),
     * `FARM_PURGE_SECRET_FILE` (a path), `FARM_WEBHOOK_SECRET_REF` (the name of an environment
     * variable or of a Docker secret in /run/secrets/). A source that is set but yields nothing is
     * an error named in the log and the admin notice, not a silent fall-through.
     *
     * @param callable(string): string $get
     * @return array{0: string, 1: string} the secret and, when it is empty, why
     */
    public static function readSecret(callable $get): array
    {
        $value = $get('FARM_PURGE_SECRET');
        if ($value !== '') {
            return [$value, ''];
        }
        $file = $get('FARM_PURGE_SECRET_FILE');
        if ($file !== '') {
            $content = is_file($file) && is_readable($file) ? file_get_contents($file) : false;
            if ($content === false) {
                return ['', "FARM_PURGE_SECRET_FILE ($file) cannot be read by this PHP process"];
            }
            $content = trim($content);
            return $content === '' ? ['', "FARM_PURGE_SECRET_FILE ($file) is empty"] : [$content, ''];
        }
        $ref = $get('FARM_WEBHOOK_SECRET_REF');
        if ($ref !== '') {
            if (!preg_match('/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/', $ref)) {
                return ['', 'FARM_WEBHOOK_SECRET_REF must be a variable or Docker secret name'];
            }
            $env = getenv($ref);
            if ($env !== false && trim($env) !== '') {
                return [trim($env), ''];
            }
            $path = '/run/secrets/' . $ref;
            if (is_file($path) && is_readable($path)) {
                $content = trim((string) file_get_contents($path));
                if ($content !== '') {
                    return [$content, ''];
                }
            }
            return ['', "FARM_WEBHOOK_SECRET_REF names $ref, but neither the environment variable nor $path holds a secret"
                . ' (php-fpm drops environment variables unless clear_env = no)'];
        }
        return ['', 'no webhook secret: define FARM_PURGE_SECRET or FARM_PURGE_SECRET_FILE in wp-config.php'
            . ' (php-fpm drops environment variables unless clear_env = no)'];
    }

    /** True when the plugin can send webhooks; otherwise it only tags pages. */
    public function canSend(): bool
    {
        return $this->problem() === '';
    }

    /** Why webhooks cannot be sent (names the missing setting), '' when they can. */
    public function problem(): string
    {
        if ($this->siteId === '') {
            return 'FARM_SITE_ID is not set';
        }
        if (!preg_match('/^[a-z][a-z0-9-]{0,62}$/', $this->siteId)) {
            return 'FARM_SITE_ID must be the site id of the farm registry (lower-case letters, digits, -)';
        }
        if ($this->purgerUrl === '') {
            return 'FARM_PURGER_URL is not set';
        }
        if (!preg_match('#^https?://[^\s/]+#i', $this->purgerUrl)) {
            return 'FARM_PURGER_URL must be an http(s) URL';
        }
        if ($this->secret === '') {
            return $this->secretProblem !== '' ? $this->secretProblem : 'no webhook secret';
        }
        return '';
    }
}
