/**
 * The Dockerfiles cannot be built here (no Docker engine), so their invariants are checked from
 * the text: multi-stage, Node 24, production dependencies only, non-root, node as PID 1 (never
 * npm), exec-form health checks, and every COPY source present in the repository. The health
 * check script runs for real against a local server.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IMAGES } from '../src/images.ts';
import { allStacks } from '../src/stacks.ts';
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

describe('node-service.Dockerfile', () => {
  const s = stages(NODE);
  const final = s[s.length - 1]!;

  it('is multi-stage on Node 24', () => {
    expect(s.length - 1).toBeGreaterThanOrEqual(2);
    expect(s[0]!.find((i) => i.op === 'ARG')?.args).toMatch(/^NODE_IMAGE=node:24-/);
    for (const stage of s.slice(1)) expect(stage[0]!.args).toMatch(/^\$\{NODE_IMAGE\}/);
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
      '/app/infra/docker/healthcheck.ts',
    ]);
  });

  // Every service image also copies telemetry/ (the --import preload): checked once, below.
  const serviceImages = Object.entries(IMAGES).filter(
    ([, r]) => r.dockerfile === NODE && r.args?.WORKSPACE !== 'telemetry',
  );
  it.each(serviceImages)('%s: every COPY source of its own exists, and its server.ts', (_name, recipe) => {
    const ws = recipe.args!.WORKSPACE!;
    for (const i of s.flat().filter((i) => i.op === 'COPY' && !i.args.includes('--from'))) {
      const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1).filter((p) => !p.startsWith('telemetry/')))
        expect(existsSync(join(ROOT, src.replace(/\$\{WORKSPACE\}/g, ws))), src).toBe(true);
    }
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
  it.each(['infra/docker/varnish.Dockerfile', 'infra/docker/wordpress.Dockerfile'])(
    '%s: COPY sources exist, exec-form health checks',
    (file) => {
      for (const stage of stages(file).slice(1)) {
        for (const i of stage.filter((i) => i.op === 'COPY' && !i.args.includes('--from'))) {
          const parts = i.args.split(/\s+/).filter((p) => !p.startsWith('--'));
          for (const src of parts.slice(0, -1)) {
            const path = join(ROOT, src.replace(/\*\.vcl$/, 'default.vcl'));
            expect(existsSync(path), src).toBe(true);
          }
        }
        const hc = stage.find((i) => i.op === 'HEALTHCHECK');
        expect(hc, `${file}: a stage without HEALTHCHECK`).toBeTruthy();
        expect(hc!.args).toMatch(/CMD \["/);
      }
    },
  );

  it('the wordpress targets named in images.ts exist', () => {
    const text = readFileSync(join(ROOT, 'infra/docker/wordpress.Dockerfile'), 'utf8');
    for (const r of Object.values(IMAGES).filter((r) => r.target))
      expect(text).toMatch(new RegExp(`^FROM \\S+ AS ${r.target}$`, 'm'));
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

describe("healthcheck.ts (the Node images' health check), run for real", () => {
  const script = join(INFRA, 'docker/healthcheck.ts');
  const serve = async (status: number) => {
    const server = createServer((_req, res) => res.writeHead(status).end('x'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping`,
      close: () => server.close(),
    };
  };

  it('exits 0 on 200 and 1 on 503', async () => {
    const ok = await serve(200);
    const bad = await serve(503);
    try {
      expect((await run(process.execPath, [script, ok.url])).code).toBe(0);
      expect((await run(process.execPath, [script, bad.url])).code).toBe(1);
    } finally {
      ok.close();
      bad.close();
    }
  });

  it('exits 1 when nothing listens, and reads HEALTHCHECK_URL when given no argument', async () => {
    const down = await serve(200);
    down.close();
    expect((await run(process.execPath, [script, down.url])).code).toBe(1);
    const ok = await serve(204);
    try {
      const r = await run(process.execPath, [script], { env: { ...process.env, HEALTHCHECK_URL: ok.url } });
      expect(r.code).toBe(0);
    } finally {
      ok.close();
    }
    expect((await run(process.execPath, [script], { env: { PATH: process.env.PATH } })).code).toBe(1);
  });
});
