/**
 * The Node images' health check: `node healthcheck.ts [url]` exits 0 on a 2xx answer, 1 otherwise.
 * The URL is the argument or HEALTHCHECK_URL (set per image at build time). Exec form, no shell,
 * no curl in the image; a 2 s timeout so a hung service fails the check instead of stalling it.
 */
const url = process.argv[2] ?? process.env.HEALTHCHECK_URL;
if (!url) {
  console.error('healthcheck: give a URL or set HEALTHCHECK_URL');
  process.exit(1);
}
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  await res.body?.cancel();
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`healthcheck: ${url}: ${(err as Error).message}`);
  process.exit(1);
}
