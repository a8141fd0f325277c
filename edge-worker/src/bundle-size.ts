/**
 * Reports the size of the bundle `wrangler deploy --dry-run --outdir dist` wrote: raw and gzipped
 * (Cloudflare's limit applies to the compressed size). Run with node after the dry run.
 * Usage: node src/bundle-size.ts [dist-dir] [--max-gzip-kb=100]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** Raw and gzipped bytes of every .js/.mjs file in a folder. */
export function bundleSize(dir: string): { raw: number; gzip: number; files: string[] } {
  const files = readdirSync(dir).filter((f) => /\.m?js$/.test(f) && statSync(join(dir, f)).isFile());
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const buf = readFileSync(join(dir, f));
    raw += buf.byteLength;
    gzip += gzipSync(buf, { level: 9 }).byteLength;
  }
  return { raw, gzip, files };
}

if (import.meta.main) {
  const dir = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'dist';
  const maxArg = process.argv.find((a) => a.startsWith('--max-gzip-kb='));
  const maxKb = maxArg ? Number(maxArg.split('=')[1]) : 100;
  const { raw, gzip, files } = bundleSize(dir);
  if (files.length === 0) {
    console.error(`no bundle in ${dir}: run wrangler deploy --dry-run --outdir ${dir} first`);
    process.exit(1);
  }
  console.log(
    JSON.stringify({
      bundle: files,
      rawBytes: raw,
      gzipBytes: gzip,
      rawKB: +(raw / 1024).toFixed(1),
      gzipKB: +(gzip / 1024).toFixed(1),
    }),
  );
  if (gzip > maxKb * 1024) {
    console.error(`bundle is ${(gzip / 1024).toFixed(1)} KB gzipped, over the ${maxKb} KB goal`);
    process.exit(1);
  }
}
