/**
 * Real-peer test rig: the demo origin (the real upstream), the back router, three real varnishd
 * with the farm's VCL (backend = back router) and the front router, each router a separate
 * `node server.ts` process on loopback ports from freePort(), data in a mkdtemp folder.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DemoOrigin, startDemoOrigin } from '@wpfarm/common/peers/demo-origin';
import { startVarnish, type VarnishInstance } from '@wpfarm/common/peers/varnish';
import { freePort, type ManagedProcess, startProcess } from '@wpfarm/common/process/managed';
import { parseRegistry } from '@wpfarm/common/registry/load';
import { type Dispatcher, request } from 'undici';

export const SERVER = resolve(dirname(fileURLToPath(import.meta.url)), '../src/server.ts');

/** A registry of `n` generated sites plus alpha (plain), shop (WooCommerce) and down (maintenance). */
export function registryYaml(upstream: string, n = 0, extra = ''): string {
  const generated = Array.from(
    { length: n },
    (_, i) => `  - { id: s${i}, host: s${i}.farm.test, upstream: "${upstream}", webhookSecretRef: W }`,
  ).join('\n');
  return `version: 1
sites:
  - { id: alpha, host: alpha.farm.test, aliases: [www.alpha.farm.test], upstream: "${upstream}", webhookSecretRef: W }
  - { id: shop, host: shop.farm.test, upstream: "${upstream}", webhookSecretRef: W, policy: { woocommerce: true } }
  - { id: down, host: down.farm.test, upstream: "${upstream}", webhookSecretRef: W, policy: { maintenance: true } }
${generated}
${extra}`;
}

export interface Router {
  port: number;
  metricsPort: number;
  url: string;
  proc: ManagedProcess;
}

/** Starts `node server.ts` with `env` and waits for /ping 200. */
export async function startRouter(dir: string, name: string, env: Record<string, string>): Promise<Router> {
  const port = await freePort();
  const metricsPort = await freePort();
  const proc = await startProcess({
    name,
    command: process.execPath,
    args: [SERVER],
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      METRICS_HOST: '127.0.0.1',
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'info',
      DRAIN_DELAY_MS: '300',
      ...env,
    },
    logFile: join(dir, `${name}.log`),
    ready: { http: `http://127.0.0.1:${port}/ping`, status: 200 },
    readyTimeoutMs: 20_000,
  });
  return { port, metricsPort, url: `http://127.0.0.1:${port}`, proc };
}

export interface Rig {
  dir: string;
  registryFile: string;
  origin: DemoOrigin;
  back: Router;
  varnish: VarnishInstance[];
  front: Router;
  keys: [string, string];
  stop(): Promise<void>;
}

/** Brings up origin → back → varnish ×3 → front. */
export async function startRig(
  opts: {
    sites?: number;
    frontEnv?: Record<string, string>;
    backEnv?: Record<string, string>;
    pageBytes?: number;
  } = {},
): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'router-rig-'));
  chmodSync(dir, 0o755); // varnishd's users read the per-instance includes below it
  const registryFile = join(dir, 'sites.yaml');
  // The demo origin reads its own copy: it must know every host the registry may gain later.
  const originRegistry = parseRegistry(
    registryYaml('http://127.0.0.1:1', opts.sites ?? 0, newSite('http://127.0.0.1:1')),
  );
  const origin = await startDemoOrigin({ registry: originRegistry, pageBytes: opts.pageBytes ?? 4096 });
  writeFileSync(registryFile, registryYaml(origin.url, opts.sites ?? 0));
  const back = await startRouter(dir, 'router-back', {
    ROUTER_ROLE: 'back',
    REGISTRY_FILE: registryFile,
    BREAKER_FAILURES: '3',
    BREAKER_OPEN_MS: '60000',
    ...opts.backEnv,
  });
  const varnish: VarnishInstance[] = [];
  for (const n of [1, 2, 3]) {
    varnish.push(
      await startVarnish({
        name: `varnish-${n}`,
        dir: join(dir, `varnish-${n}`),
        backend: { host: '127.0.0.1', port: back.port },
      }),
    );
  }
  const keys: [string, string] = [randomBytes(24).toString('hex'), randomBytes(24).toString('hex')];
  const front = await startRouter(dir, 'router-front', {
    ROUTER_ROLE: 'front',
    REGISTRY_FILE: registryFile,
    VARNISH_NODES: varnish.map((v, i) => `varnish-${i + 1}=127.0.0.1:${v.port}`).join(','),
    EDGE_AUTH_KEYS: keys.join(','),
    PROBE_INTERVAL_MS: '200',
    PROBE_TIMEOUT_MS: '300',
    EJECT_MS: '2000',
    ...opts.frontEnv,
  });
  return {
    dir,
    registryFile,
    origin,
    back,
    varnish,
    front,
    keys,
    async stop() {
      await front.proc.stop();
      await Promise.all(varnish.map((v) => v.stop()));
      await back.proc.stop();
      await origin.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A site the hot-reload test adds; the demo origin knows it from the start. */
export const newSite = (upstream: string) =>
  `  - { id: added, host: added.farm.test, upstream: "${upstream}", webhookSecretRef: W }\n`;

export interface Got {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request with undici (fetch may not set Host). */
export async function get(
  url: string,
  headers: Record<string, string> = {},
  opts: { method?: string; dispatcher?: Dispatcher; body?: string } = {},
): Promise<Got> {
  const r = await request(url, {
    method: (opts.method ?? 'GET') as 'GET',
    headers,
    dispatcher: opts.dispatcher,
    body: opts.body,
    headersTimeout: 10_000,
    bodyTimeout: 10_000,
  });
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) flat[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return { status: r.statusCode, headers: flat, body: await r.body.text() };
}
