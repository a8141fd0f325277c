/**
 * The Varnish image's entrypoint (infra/docker/varnish/entrypoint.sh) against a real varnishd with
 * the farm's default.vcl on loopback. In Swarm it resolves `tasks.services_router-back`; here the
 * resolver is injected (VARNISH_RESOLVE: a script printing a file the test rewrites), and the
 * "router tasks" are two HTTP servers on 127.0.0.2 and 127.0.0.3, same port, as tasks would be.
 * The same behaviour was also checked once by hand on a one-node Swarm (cache deployed before
 * services: 503, then 200; a rolling update of the back routers under load: no error).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { VCL_DIR, writeVarnishIncludes } from '@wpfarm/common/peers/varnish';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INFRA } from './helpers.ts';

const exec = promisify(execFile);
const ENTRYPOINT = join(INFRA, 'docker/varnish/entrypoint.sh');
const HEALTHCHECK = join(INFRA, 'docker/varnish/healthcheck.sh');
const NAME = 'router-back.test';
const DRAIN_SECONDS = 2;

/** A stand-in back-router task: its own address, /ping 200 (503 once draining), pages name it. */
interface Task {
  host: string;
  draining: boolean;
  probeHosts: Set<string>;
  server: Server;
}
function startTask(host: string, port: number): Promise<Task> {
  const task: Task = { host, draining: false, probeHosts: new Set(), server: undefined as never };
  task.server = createServer((req, res) => {
    if (req.url === '/ping') {
      task.probeHosts.add(String(req.headers.host));
      res.writeHead(task.draining ? 503 : 200).end();
      return;
    }
    res.writeHead(200, { 'cache-control': 'no-store' }).end(host);
  });
  return new Promise((resolve, reject) => {
    task.server.once('error', reject);
    task.server.listen(port, host, () => resolve(task));
  });
}

const until = async (what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}\n${logTail()}`);
    await sleep(100);
  }
};

const dir = mkdtempSync(join(tmpdir(), 'varnish-backends-'));
/** The entrypoint's and varnishd's last lines, for a failure's message (the folder is removed after). */
const logTail = () => {
  try {
    return `varnishd.log (last lines):\n${readFileSync(join(dir, 'varnishd.log'), 'utf8').split('\n').slice(-15).join('\n')}`;
  } catch {
    return '(no varnishd.log)';
  }
};

describe('varnish entrypoint: backends from a name that resolves late and changes', () => {
  chmodSync(dir, 0o755); // varnishd reads the includes here
  const backendsDir = join(dir, 'backends');
  const workdir = join(dir, 'work');
  const addresses = join(dir, 'addresses');
  const asked = join(dir, 'asked');
  const setAddresses = (...ips: string[]) => writeFileSync(addresses, ips.map((ip) => `${ip}\n`).join(''));
  let port = 0;
  let tasks: Task[] = [];
  let varnish: ManagedProcess;
  let env: NodeJS.ProcessEnv;
  let args: string[];

  const get = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: await res.text() };
  };
  const adm = async (...cmd: string[]) => (await exec('varnishadm', ['-n', workdir, ...cmd])).stdout;
  let n = 0;
  /** Bodies of `count` fresh requests (no-store pages, distinct URLs: never from the cache). */
  const served = async (count: number) => {
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const r = await get(`/page-${n++}`);
      out.push(r.status === 200 ? r.body : String(r.status));
    }
    return out;
  };

  beforeAll(async () => {
    const routerPort = await freePort();
    tasks = [await startTask('127.0.0.2', routerPort), await startTask('127.0.0.3', routerPort)];
    // The includes Swarm mounts (purgers.vcl, purge-secret.vcl); no static backends.vcl.
    const includes = join(dir, 'includes');
    writeVarnishIncludes(includes, { host: '127.0.0.1', port: 9 }, 'purge-secret-for-the-test');
    rmSync(join(includes, 'backends.vcl'));
    const resolver = join(dir, 'resolve');
    writeFileSync(resolver, `#!/bin/sh\nprintf '%s\\n' "$*" > '${asked}'\ncat '${addresses}' 2>/dev/null\n`, {
      mode: 0o755,
    });
    setAddresses(); // the services stack is not deployed yet
    mkdirSync(backendsDir);
    port = await freePort();
    env = {
      PATH: process.env.PATH,
      VARNISH_BACKEND: `${NAME}:${routerPort}`,
      VARNISH_BACKEND_INTERVAL: '1',
      VARNISH_BACKENDS_DIR: backendsDir,
      VARNISH_RESOLVE: resolver,
      VARNISH_DRAIN_SECONDS: String(DRAIN_SECONDS),
      VARNISH_DRAIN_FILE: join(dir, 'draining'),
    };
    args = [
      ENTRYPOINT,
      'varnishd',
      '-F',
      // As root, varnishd's jail drops to users that cannot read a private temp folder.
      ...(process.getuid?.() === 0 ? ['-j', 'none'] : []),
      '-n',
      workdir,
      '-a',
      `127.0.0.1:${port}`,
      '-f',
      join(VCL_DIR, 'default.vcl'),
      '-s',
      'malloc,32m',
      '-p',
      `vcl_path=${backendsDir}:${includes}:${VCL_DIR}:/usr/share/varnish/vcl`,
    ];
    varnish = await startProcess({
      name: 'varnish-entrypoint',
      command: 'sh',
      args,
      env,
      logFile: join(dir, 'varnishd.log'),
      ready: { tcp: port },
    });
  });

  afterAll(async () => {
    await varnish?.stop();
    for (const t of tasks) t.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts while the name resolves to nothing, answering 503 (its own health URL still 200)', async () => {
    expect(readFileSync(join(backendsDir, 'backends.vcl'), 'utf8')).toMatch(/^backend default none;$/m);
    expect((await get('/')).status).toBe(503);
    expect((await get('/.varnish-health')).status).toBe(200);
    await until('the resolver was asked', () => readFileSync(asked, 'utf8').trim() === NAME);
  });

  it('uses the address once the name resolves, probing GET /ping with a Host that is no site', async () => {
    setAddresses('127.0.0.2');
    await until('served by 127.0.0.2', async () => (await get(`/first-${n++}`)).body === '127.0.0.2');
    expect(await served(5)).toEqual(Array(5).fill('127.0.0.2'));
    expect([...tasks[0]!.probeHosts]).toEqual(['varnish-probe.invalid']);
  });

  it('follows a change of address, and discards the VCLs it no longer uses', async () => {
    setAddresses('127.0.0.3');
    await until('served by 127.0.0.3', async () => (await get(`/moved-${n++}`)).body === '127.0.0.3');
    expect(await served(5)).toEqual(Array(5).fill('127.0.0.3'));
    // Only the active VCL is kept: the boot VCL and the previous one were discarded. A discarded
    // VCL can stay listed as `discarded … busy` a while longer: an idle Varnish worker thread keeps
    // the last VCL it ran until it works again or idles out. That release is Varnish's; the discard
    // is ours.
    let list: string[] = [];
    await until('every other VCL discarded', async () => {
      list = (await adm('vcl.list')).trim().split('\n');
      return list.filter((l) => !l.startsWith('discarded')).length === 1;
    }).catch((e: Error) => Promise.reject(new Error(`${e.message}\nvcl.list:\n${list.join('\n')}`)));
    expect(list.filter((l) => !l.startsWith('discarded'))[0]).toMatch(/^active\s.*backends_/);
  });

  it('spreads over every address, and takes out a router whose /ping turns 503 (its drain) without an error', async () => {
    setAddresses('127.0.0.3', '127.0.0.2');
    await until('both addresses serve', async () => new Set(await served(4)).size === 2);
    const rendered = readFileSync(join(backendsDir, 'backends.vcl'), 'utf8');
    expect(rendered).toContain('.host = "127.0.0.2";');
    expect(rendered).toContain('.host = "127.0.0.3";');
    tasks[0]!.draining = true; // SIGTERM in the router: /ping 503, requests still answered
    const during: string[] = [];
    await until(
      '127.0.0.2 no longer used',
      async () => {
        const batch = await served(4);
        during.push(...batch);
        return batch.every((b) => b === '127.0.0.3');
      },
      10_000,
    );
    expect(during.every((b) => b === '127.0.0.2' || b === '127.0.0.3')).toBe(true); // never a 503
    expect(await served(6)).toEqual(Array(6).fill('127.0.0.3'));
    tasks[0]!.draining = false;
  });

  it('returns to 503 when the name stops resolving', async () => {
    setAddresses();
    await until('503 again', async () => (await get(`/gone-${n++}`)).status === 503);
  });

  it('health check: varnishadm ping and a fresh watcher heartbeat; a silent watcher fails it', async () => {
    const ok = await exec('sh', [HEALTHCHECK, workdir], { env });
    expect(ok.stderr).toBe('');
    const stale = join(dir, 'stale');
    mkdirSync(stale);
    writeFileSync(join(stale, 'watcher.alive'), '');
    const old = Date.now() / 1000 - 120;
    utimesSync(join(stale, 'watcher.alive'), old, old);
    const failed = await exec('sh', [HEALTHCHECK, workdir], {
      env: { ...env, VARNISH_BACKENDS_DIR: stale },
    }).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringMatching(/watcher silent for 12\ds/) });
  });

  it('SIGTERM to the entrypoint PID drains: the probe URL answers 503 while pages are still served, then varnishd stops and the watcher follows', async () => {
    setAddresses('127.0.0.3');
    await until('served by 127.0.0.3 again', async () => (await get(`/back-${n++}`)).body === '127.0.0.3');
    expect((await get('/.varnish-health')).status).toBe(200);
    const t = Date.now();
    process.kill(varnish.pid, 'SIGTERM'); // the leader only, as Swarm signals PID 1
    await until(
      'the probe URL answers 503',
      async () => (await get('/.varnish-health')).status === 503,
      1_500,
    );
    expect(await served(3)).toEqual(Array(3).fill('127.0.0.3')); // the routers' requests in the meantime
    expect(await varnish.exited).toBe(0);
    expect(Date.now() - t).toBeGreaterThanOrEqual(DRAIN_SECONDS * 1000);
    const groupAlive = () => {
      try {
        process.kill(-varnish.pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await until('the watcher exited', () => !groupAlive(), 5_000);
  });
});

describe('varnish entrypoint: refusals and pass-through', () => {
  const run = (env: NodeJS.ProcessEnv, ...cmd: string[]) =>
    exec('sh', [ENTRYPOINT, ...cmd], { env: { PATH: process.env.PATH, ...env } }).catch(
      (err: { code: number; stdout: string; stderr: string }) => err,
    );

  it('without VARNISH_BACKEND it runs the command as given (a static backends.vcl), with or without a drain', async () => {
    expect(await run({}, 'echo', 'as given')).toMatchObject({ stdout: 'as given\n' });
    const file = join(mkdtempSync(join(tmpdir(), 'varnish-drain-')), 'draining');
    const drained = await run(
      { VARNISH_DRAIN_SECONDS: '1', VARNISH_DRAIN_FILE: file },
      'sh',
      '-c',
      'echo "$FARM_DRAIN_FILE"; exit 3',
    );
    expect(drained).toMatchObject({ code: 3, stdout: `${file}\n` }); // its status passed on
    rmSync(dirname(file), { recursive: true, force: true });
  });

  it('refuses a drain that is not a whole number of seconds', async () => {
    expect(await run({ VARNISH_DRAIN_SECONDS: '5s' }, 'echo')).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/VARNISH_DRAIN_SECONDS must be a whole number/),
    });
  });

  it('refuses a malformed VARNISH_BACKEND, a command without -n or -f, a vcl_path without the backends dir', async () => {
    const base = ['varnishd', '-F', '-n', '/tmp/w', '-f', '/etc/varnish/default.vcl'];
    const cases: [NodeJS.ProcessEnv, string[], RegExp][] = [
      [{ VARNISH_BACKEND: 'router-back' }, base, /must be name:port/],
      [{ VARNISH_BACKEND: 'router back:80' }, base, /must be name:port/],
      [{ VARNISH_BACKEND: 'r:80' }, ['varnishd', '-F', '-f', 'x.vcl'], /needs -n/],
      [{ VARNISH_BACKEND: 'r:80' }, ['varnishd', '-F', '-n', '/tmp/w'], /needs -f/],
      [
        { VARNISH_BACKEND: 'r:80' },
        [...base, '-p', 'vcl_path=/etc/varnish:/var/lib/varnish/farm/vcl'],
        /must start with \/var\/lib\/varnish\/farm\/vcl/,
      ],
    ];
    for (const [env, cmd, message] of cases)
      expect(await run(env, ...cmd), cmd.join(' ')).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(message),
      });
  });
});
