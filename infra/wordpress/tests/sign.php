<?php
/** Prints the plugin's signature headers for fixed inputs (argv: secret timestamp nonce; body on stdin), for the cross-language check. */

declare(strict_types=1);

require __DIR__ . '/../mu-plugins/farm-cache-purge/Signer.php';
echo json_encode(FarmCachePurge\Signer::sign($argv[1], stream_get_contents(STDIN), (int) $argv[2], $argv[3])), "\n";
