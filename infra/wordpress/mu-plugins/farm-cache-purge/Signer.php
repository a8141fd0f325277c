<?php

declare(strict_types=1);

namespace FarmCachePurge;

/**
 * Webhook signing, the PHP side of common/src/contracts/signing.ts (the reference):
 * MAC = HMAC-SHA256(secret, "{timestamp}.{nonce}.{body}"), sent as `x-farm-signature: v1=<hex>`
 * with `x-farm-timestamp` and `x-farm-nonce`. The purger accepts a timestamp within 5 minutes and
 * each nonce once, so every send (and every retry) is signed afresh.
 */
final class Signer
{
    /** @return array<string, string> the three headers */
    public static function sign(string $secret, string $body, ?int $now = null, ?string $nonce = null): array
    {
        $timestamp = (string) ($now ?? time());
        $nonce ??= bin2hex(random_bytes(16));
        return [
            'x-farm-signature' => 'v1=' . hash_hmac('sha256', $timestamp . '.' . $nonce . '.' . $body, $secret),
            'x-farm-timestamp' => $timestamp,
            'x-farm-nonce' => $nonce,
        ];
    }
}
