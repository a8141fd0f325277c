/**
 * `npm run infra:render [-- --registry <file>] [--out <dir>] [--check]`
 *
 * Renders everything per site from the registry into infra/generated/ (see render.ts). With
 * `--check` it writes nothing and exits 1 when the committed files differ (CI). A bad registry
 * exits 2 with the registry's own error (file, site, field). The host map's `generatedAt` is
 * SOURCE_DATE_EPOCH (seconds) when set, else the epoch, so the output is reproducible.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseRegistry } from '@wpfarm/common/registry/load';
import { RegistryError } from '@wpfarm/common/registry/schema';
import { type RenderedFile, registryPathFromStacks, renderFarm } from './render.ts';

const INFRA = resolve(import.meta.dirname, '..');
/** Default registry and output folder. */
export const DEFAULT_REGISTRY = join(INFRA, 'registry/sites.yaml');
export const DEFAULT_OUT = join(INFRA, 'generated');
export const STACKS_DIR = join(INFRA, 'stacks');

/** Reads the registry and renders it; throws RegistryError for a bad registry. */
export async function renderFromFile(registryFile: string, generatedAt: Date): Promise<RenderedFile[]> {
  let text: string;
  try {
    text = await readFile(registryFile, 'utf8');
  } catch (err) {
    throw new RegistryError([
      { file: registryFile, site: '', field: '', message: `cannot be read: ${(err as Error).message}` },
    ]);
  }
  const display = relative(process.cwd(), registryFile) || registryFile;
  const registry = parseRegistry(text, display);
  return renderFarm(registry, {
    registryFile: display,
    registryText: text,
    registryPath: registryPathFromStacks(STACKS_DIR, resolve(registryFile)),
    generatedAt,
  });
}

/** Lists files under `dir` (relative, posix), empty when it does not exist. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).replaceAll('\\', '/'))
    .sort();
}

/** Returns the paths that differ between `files` and `dir` (missing, changed or stale). */
export async function diffAgainst(dir: string, files: RenderedFile[]): Promise<string[]> {
  const out: string[] = [];
  const wanted = new Set(files.map((f) => f.path));
  for (const f of files) {
    const have = await readFile(join(dir, f.path), 'utf8').catch(() => undefined);
    if (have !== f.content) out.push(f.path);
  }
  for (const p of await listFiles(dir)) if (!wanted.has(p)) out.push(p);
  return out;
}

/** Replaces `dir`'s content with `files` (stale files of removed sites go too). */
export async function writeRendered(dir: string, files: RenderedFile[]): Promise<void> {
  const wanted = new Set(files.map((f) => f.path));
  for (const p of await listFiles(dir)) if (!wanted.has(p)) await rm(join(dir, p));
  for (const f of files) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true });
    await writeFile(join(dir, f.path), f.content);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      registry: { type: 'string', default: DEFAULT_REGISTRY },
      out: { type: 'string', default: DEFAULT_OUT },
      check: { type: 'boolean', default: false },
    },
  });
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && !/^\d{1,12}$/.test(epoch)) {
    console.error(`SOURCE_DATE_EPOCH must be whole seconds (got "${epoch}")`);
    return 2;
  }
  const generatedAt = new Date(Number(epoch ?? 0) * 1000);
  let files: RenderedFile[];
  try {
    files = await renderFromFile(resolve(values.registry), generatedAt);
  } catch (err) {
    if (err instanceof RegistryError) {
      console.error(err.message);
      return 2;
    }
    throw err;
  }
  const out = resolve(values.out);
  if (values.check) {
    const diff = await diffAgainst(out, files);
    if (diff.length) {
      console.error(`${out} is out of date (run npm run infra:render):\n  ${diff.join('\n  ')}`);
      return 1;
    }
    console.log(`${out} is up to date (${files.length} files)`);
    return 0;
  }
  await writeRendered(out, files);
  console.log(`rendered ${files.length} files into ${relative(process.cwd(), out) || out}`);
  return 0;
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) process.exitCode = await main();
