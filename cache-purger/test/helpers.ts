import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { signBody } from '@wpfarm/common/contracts/signing';
import { type DemoOrigin, startDemoOrigin } from '@wpfarm/common/peers/demo-origin';
import { type RedisInstance, startRedis } from '@wpfarm/common/peers/redis';
import { startVarnish, type VarnishInstance } from '@wpfarm/common/peers/varnish';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { loadRegistry } from '@wpfarm/common/registry/load';
import type { Registry } from '@wpfarm/common/registry/schema';
import { Pool, request } from 'undici';

export const PURGER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = resolve(PURGER_DIR, '..');
export const REGISTRY_FILE = join(REPO, 'infra/registry/sites.yaml');
export const SECRETS: Record<string, string> = {
  WEBHOOK_SECRET_ALPHA: 'alpha-secret-for-tests-only-0123456789',
  WEBHOOK_SECRET_BETA: 'beta-secret-for-tests-only-0123456789',
  WEBHOOK_SECRET_GAMMA: 'gamma-secret-for-tests-only-0123456789',
};
export const secretOf = (site: string) => SECRETS[`WEBHOOK_SECRET_${site.toUpperCase()}`]!;

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs` (a bound, not a speed assertion). */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await sleep(100);
  }
}

/**
 * Reads what a Varnish node received over its purge interface, from its own shared-memory log
 * (`varnishlog`): every BAN (host, url) and every xkey key. This is the Varnish-side count.
 */
export class PurgeLog {
  readonly file: string;
  readonly proc: ManagedProcess;
  constructor(file: string, proc: ManagedProcess) {
    this.file = file;
    this.proc = proc;
  }

  static async start(v: VarnishInstance, dir: string, purgeSecret: string): Promise<PurgeLog> {
    const file = join(dir, `${v.name}-purges.log`);
    const proc = await startProcess({
      name: `${v.name}-varnishlog`,
      command: 'varnishlog',
      args: [
        '-n',
        join(dir, v.name, 'work'),
        '-u',
        '-g',
        'request',
        '-q',
        'ReqMethod ~ "^(BAN|PURGE)$"',
        '-i',
        'ReqMethod,ReqHeader',
      ],
      logFile: file,
    });
    const log = new PurgeLog(file, proc);
    // Ready when a probe purge sent straight to the node shows up in the log.
    const probe = `probe-${Date.now()}`;
    await until(`${v.name} varnishlog attached`, async () => {
      await fetch(`http://127.0.0.1:${v.port}/`, {
        method: 'PURGE',
        headers: { 'x-purge-secret': purgeSecret, 'xkey-purge': probe },
      }).then((r) => r.arrayBuffer());
      return log.keys().has(probe);
    });
    return log;
  }

  #out: { method: string; headers: Record<string, string> }[] = [];
  #offset = 0;
  #keys = new Set<string>();
  #seen = 0;

  /** Parses only what was appended since the last call (whole lines). */
  #records(): { method: string; headers: Record<string, string> }[] {
    const out = this.#out;
    let cur = out.at(-1);
    const buf = readFileSync(this.file);
    const end = buf.lastIndexOf(10) + 1;
    if (end <= this.#offset) return out;
    const text = buf.subarray(this.#offset, end).toString('utf8');
    this.#offset = end;
    for (const line of text.split('\n')) {
      if (line.startsWith('*')) {
        cur = { method: '', headers: {} };
        out.push(cur);
        continue;
      }
      const m = /^-+\s+(ReqMethod|ReqHeader)\s+(.*)$/.exec(line);
      if (!m || !cur) continue;
      if (m[1] === 'ReqMethod') cur.method = m[2]!.trim();
      else {
        const i = m[2]!.indexOf(':');
        cur.headers[m[2]!.slice(0, i).toLowerCase()] = m[2]!.slice(i + 1).trim();
      }
    }
    return out;
  }

  /** Every xkey key purged on this node. */
  keys(): Set<string> {
    const records = this.#records();
    // Records are complete once the next one starts; the last one is re-read on the next call.
    for (; this.#seen < records.length; this.#seen++) {
      const r = records[this.#seen]!;
      for (const k of (r.headers['xkey-purge'] ?? r.headers['xkey-softpurge'] ?? '').split(/\s+/))
        if (k) this.#keys.add(k);
    }
    this.#seen = Math.max(0, records.length - 1);
    const last = records.at(-1);
    for (const k of (last?.headers['xkey-purge'] ?? last?.headers['xkey-softpurge'] ?? '').split(/\s+/))
      if (k) this.#keys.add(k);
    return this.#keys;
  }

  /** Every BAN: `host url` (url empty for a whole-host ban). */
  bans(): string[] {
    return this.#records()
      .filter((r) => r.method === 'BAN')
      .map((r) => `${r.headers['x-ban-host']} ${r.headers['x-ban-url'] ?? ''}`.trim());
  }
}

/** edge-standin: records the purger's calls to the edge worker's purge endpoint (the real one is written in parallel). */
export interface EdgeStandin {
  url: string;
  calls: {
    auth: string | undefined;
    body: { site: string; urls?: string[]; tags?: string[]; all?: boolean };
  }[];
  tags(): Set<string>;
  /** Answer `escalated: true`, as the edge worker does when its purge records overflow. */
  escalate: boolean;
  close(): Promise<void>;
}

export async function startEdgeStandin(): Promise<EdgeStandin> {
  const calls: EdgeStandin['calls'] = [];
  const server: Server = createServer(async (req, res) => {
    let text = '';
    for await (const c of req) text += c;
    calls.push({ auth: req.headers.authorization, body: JSON.parse(text) });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(standin.escalate ? '{"ok":true,"escalated":true}' : '{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const standin: EdgeStandin = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    tags: () => new Set(calls.flatMap((c) => c.body.tags ?? [])),
    escalate: false,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  return standin;
}

/** The real peers of a delivery test: demo origin, 3 varnishd with their logs, redis, edge-standin. */
export interface Peers {
  dir: string;
  registry: Registry;
  origin: DemoOrigin;
  varnish: VarnishInstance[];
  logs: PurgeLog[];
  redis: RedisInstance;
  redisPort: number;
  edge: EdgeStandin;
  purgeSecret: string;
  stop(): Promise<void>;
}

export async function startPeers(prefix: string): Promise<Peers> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const registry = await loadRegistry(REGISTRY_FILE);
  const purgeSecret = 'varnish-purge-secret-for-tests';
  const origin = await startDemoOrigin({ registry, pageBytes: 2048 });
  const varnish = await Promise.all(
    [1, 2, 3].map((i) =>
      startVarnish({
        name: `varnish-${i}`,
        dir: join(dir, `varnish-${i}`),
        backend: { host: '127.0.0.1', port: origin.port },
        purgeSecret,
        // Long xkey-purge headers must reach the log whole (default record length is 255 bytes).
        params: { vsl_reclen: 4084 },
      }),
    ),
  );
  const logs = await Promise.all(varnish.map((v) => PurgeLog.start(v, dir, purgeSecret)));
  const redisPort = await freePort();
  const redis = await startRedis({ dir: join(dir, 'redis'), port: redisPort });
  const edge = await startEdgeStandin();
  const peers = {
    dir,
    registry,
    origin,
    varnish,
    logs,
    redis,
    redisPort,
    edge,
    purgeSecret,
    async stop() {
      await edge.close();
      // `peers.redis`, not the first instance: a fault test may have replaced it with a restarted one.
      await Promise.all([
        ...logs.map((l) => l.proc.stop()),
        ...varnish.map((v) => v.stop()),
        peers.redis.stop(),
      ]);
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return peers;
}

/**
 * Starts the purger as its own process (`node src/server.ts`), as it runs in production. Ready
 * when /healthz says 200 (Redis reachable), or, with `waitForRedis: false`, once it listens.
 */
export async function startPurger(
  p: Peers,
  extra: Record<string, string> = {},
  name = 'purger',
  { waitForRedis = true }: { waitForRedis?: boolean } = {},
): Promise<{ proc: ManagedProcess; url: string; port: number }> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PURGER_HOST: '127.0.0.1',
    PURGER_PORT: String(port),
    REDIS_URL: `redis://127.0.0.1:${p.redisPort}`,
    REGISTRY_FILE,
    VARNISH_NODES: p.varnish.map((v) => `${v.name}=http://127.0.0.1:${v.port}`).join(','),
    VARNISH_PURGE_SECRET: p.purgeSecret,
    EDGE_URL: p.edge.url,
    EDGE_PURGE_TOKEN: 'edge-purge-token-for-tests',
    PURGE_REQUEST_TIMEOUT_MS: '1000',
    PURGE_RETRY_BASE_MS: '100',
    PURGE_RETRY_MAX_MS: '1000',
    PURGE_CLAIM_IDLE_MS: '3000',
    LOG_LEVEL: 'info',
    ...SECRETS,
    ...extra,
  };
  const proc = await startProcess({
    name,
    command: process.execPath,
    args: [join(PURGER_DIR, 'src/server.ts')],
    env,
    logFile: join(p.dir, `${name}.log`),
    ready: waitForRedis ? { http: `http://127.0.0.1:${port}/healthz`, status: 200 } : { tcp: port },
  });
  return { proc, url: `http://127.0.0.1:${port}`, port };
}

/** Signs and sends webhooks with bounded concurrency; resolves with each response's status and body. */
export async function sendWebhooks(
  url: string,
  bodies: { site: string; urls?: string[]; tags?: string[]; all?: boolean }[],
  concurrency = 64,
): Promise<
  { status: number; body: Record<string, unknown>; req: (typeof bodies)[number]; retryAfter?: string }[]
> {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1 });
  const out: {
    status: number;
    body: Record<string, unknown>;
    req: (typeof bodies)[number];
    retryAfter?: string;
  }[] = new Array(bodies.length);
  let next = 0;
  const lane = async () => {
    while (next < bodies.length) {
      const i = next++;
      const req = bodies[i]!;
      const text = JSON.stringify(req);
      try {
        const res = await pool.request({
          method: 'POST',
          path: '/v1/purge',
          headers: { 'content-type': 'application/json', ...signBody(secretOf(req.site), text) },
          body: text,
          headersTimeout: 10_000,
        });
        const retryAfter = res.headers['retry-after'];
        out[i] = {
          status: res.statusCode,
          body: (await res.body.json()) as Record<string, unknown>,
          req,
          ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
        };
      } catch (err) {
        out[i] = { status: 0, body: { error: String(err) }, req };
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  await pool.destroy();
  return out;
}

/** GETs a page through a node; returns its x-cache. */
export async function cacheState(v: VarnishInstance, host: string, path: string): Promise<string> {
  const res = await request(`http://127.0.0.1:${v.port}${path}`, { headers: { host } });
  await res.body.dump();
  return String(res.headers['x-cache'] ?? '');
}
