import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freeFarmBase } from '@wpfarm/common/testing/farm-ports';
import { rawRequest } from '@wpfarm/common/testing/http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, type FarmState, readState } from './runner.ts';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = join(ROOT, 'infra/local-farm/cli.ts');

const farm = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  run(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    timeout: 90_000,
  }).catch((err) => err as { code: number; stdout: string; stderr: string });

describe('the local farm (demo origin + 3 Varnish)', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'farm-'));
  let base = 0;
  let state: FarmState | undefined;
  let startOut = '';

  beforeAll(async () => {
    base = await freeFarmBase();
    const out = await farm([
      'start',
      '--detach',
      '--only=demo-origin,varnish',
      `--base-port=${base}`,
      `--run-dir=${runDir}`,
    ]);
    startOut = (out as { stdout: string }).stdout;
    state = readState(runDir);
  });

  afterAll(async () => {
    await farm(['stop', `--run-dir=${runDir}`]);
    rmSync(runDir, { recursive: true, force: true });
  });

  it('prints a table of what runs where', () => {
    expect(startOut).toMatch(/service\s+url\s+note/);
    for (const n of [1, 2, 3])
      expect(startOut).toContain(`varnish-${n}    http://127.0.0.1:${base + 20 + n}`);
    expect(startOut).toContain(`demo-origin  http://127.0.0.1:${base}`);
    expect(state?.ready).toBe(true);
  });

  it('serves a demo site through each Varnish, and the second identical request is a hit', async () => {
    for (const n of [1, 2, 3]) {
      const url = `http://127.0.0.1:${base + 20 + n}/hello-world/`;
      const first = await rawRequest(url, { headers: { host: 'alpha.farm.test' } });
      expect(first.status).toBe(200);
      expect(first.body).toContain('site-alpha');
      expect(first.headers['x-cache']).toBe('MISS');
    }
    // A second later the same requests are hits: Age counts the object's life in the cache.
    await new Promise((r) => setTimeout(r, 1100));
    for (const n of [1, 2, 3]) {
      const second = await rawRequest(`http://127.0.0.1:${base + 20 + n}/hello-world/`, {
        headers: { host: 'alpha.farm.test' },
      });
      expect(second.headers['x-cache']).toBe('HIT');
      expect(second.body).toContain('site-alpha');
      expect(Number(second.headers.age)).toBeGreaterThanOrEqual(1);
    }
  });

  it('does not cache a logged-in visitor, and the anonymous test cookie does not bypass', async () => {
    const url = `http://127.0.0.1:${base + 21}/logged/`;
    const login = await rawRequest(`http://127.0.0.1:${base + 21}/wp-login.php`, {
      method: 'POST',
      headers: { host: 'alpha.farm.test' },
    });
    const cookie = (login.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]).join('; ');
    expect(cookie).toMatch(/wordpress_logged_in_[0-9a-f]{32}=/);
    for (let i = 0; i < 2; i++) {
      const r = await rawRequest(url, { headers: { host: 'alpha.farm.test', cookie } });
      expect(r.body).toContain('Howdy, admin');
      expect(r.headers['x-cache']).toBe('MISS');
    }
    await rawRequest(url, { headers: { host: 'alpha.farm.test' } });
    const anon = await rawRequest(url, {
      headers: { host: 'alpha.farm.test', cookie: 'wordpress_test_cookie=WP%20Cookie%20check; _ga=GA1.1' },
    });
    expect(anon.body).not.toContain('Howdy');
    expect(anon.headers['x-cache']).toBe('HIT');
  });

  it('refuses a second farm on the same run folder', async () => {
    const out = await farm(['start', '--only=demo-origin', `--base-port=${base}`, `--run-dir=${runDir}`]);
    expect((out as { code: number }).code).toBe(1);
    expect((out as { stdout: string }).stdout).toMatch(/already running/);
  });

  it('npm stop leaves no process behind', async () => {
    const pids = [state?.supervisorPid ?? 0, ...(state?.processes.map((p) => p.pid) ?? [])];
    expect(pids.length).toBeGreaterThanOrEqual(5);
    expect(pids.every(alive)).toBe(true);
    const out = await farm(['stop', `--run-dir=${runDir}`]);
    expect((out as { stdout: string }).stdout).toMatch(/farm stopped .* none left/);
    expect(pids.filter(alive)).toEqual([]);
    const { stdout } = await run('ps', ['-eo', 'pid,args']);
    expect(stdout).not.toContain(runDir);
  });
});

describe('farm start-up errors', () => {
  it('a bad registry fails with the file, site and field, and starts nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'farm-bad-'));
    const bad = join(dir, 'sites.yaml');
    writeFileSync(
      bad,
      'version: 1\nsites:\n  - id: alpha\n    host: alpha.farm.test\n    webhookSecretRef: W\n',
    );
    const out = (await farm([
      'start',
      `--registry=${bad}`,
      `--run-dir=${join(dir, 'run')}`,
      '--base-port=29000',
    ])) as { code: number; stdout: string };
    expect(out.code).toBe(1);
    expect(out.stdout).toContain(`${bad}: site "alpha" field "upstream": is required`);
    expect(readState(join(dir, 'run'))).toBeUndefined();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    [['--base-port=80'], /--base-port must be an integer between 1024/],
    [['--bogus'], /unknown argument|must be|bogus/],
  ])('rejects %j with a clear message', async (args, message) => {
    const out = (await farm(['start', ...args, '--run-dir=/tmp/farm-never'])) as {
      code: number;
      stdout: string;
    };
    expect(out.code).not.toBe(0);
    expect(out.stdout).toMatch(message);
  });
});
