/**
 * `node bench/src/scale/render-cost.ts <sites> <out-dir>`: the per-site stack generator
 * (infra/src/render.ts, what `npm run infra:render` runs) on a generated registry, in a process of
 * its own so its peak RSS is its own. Prints one JSON line: seconds to validate, render and write,
 * peak RSS, files and bytes written.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderFarm } from '../../../infra/src/render.ts';
import { scaleRegistry, validateScaleRegistry } from './registry.ts';

const sites = Number(process.argv[2]);
const out = process.argv[3] ?? '/tmp/scale-render';
const doc = scaleRegistry(sites);
const text = JSON.stringify(doc);
const t0 = performance.now();
const registry = validateScaleRegistry(doc);
const t1 = performance.now();
const files = renderFarm(registry, {
  registryPath: '../registry/sites.json',
  registryText: text,
  registryFile: 'sites.json',
  generatedAt: new Date(0),
});
const t2 = performance.now();
let bytes = 0;
for (const f of files) {
  const path = join(out, f.path);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, f.content);
  bytes += f.content.length;
}
const t3 = performance.now();
console.log(
  JSON.stringify({
    validateS: (t1 - t0) / 1000,
    renderS: (t2 - t1) / 1000,
    writeS: (t3 - t2) / 1000,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    files: files.length,
    mb: bytes / 1024 / 1024,
  }),
);
