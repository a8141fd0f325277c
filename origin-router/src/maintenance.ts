/** The per-site maintenance page (back role): 503 with Retry-After, never cached. */
import type { ServerResponse } from 'node:http';
import type { Site } from '@wpfarm/common/registry/schema';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The page body for `site` (pure). */
export function maintenancePage(site: Site): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Briefly unavailable for scheduled maintenance</title></head>
<body><h1>${escapeHtml(site.host)}</h1><p>Briefly unavailable for scheduled maintenance. Check back in a minute.</p></body></html>
`;
}

/** Answers 503 with the maintenance page; `x-router-maintenance` tells the front router not to retry. */
export function sendMaintenance(
  res: ServerResponse,
  site: Site,
  retryAfterS: number,
  requestId: string,
): void {
  const body = maintenancePage(site);
  res.writeHead(503, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'retry-after': String(retryAfterS),
    'cache-control': 'no-store',
    'x-router-maintenance': '1',
    'x-request-id': requestId,
  });
  res.end(body);
}
