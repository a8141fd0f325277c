/**
 * Runs the worker in workerd (through Miniflare) on a local port: the local farm's edge and the
 * benchmark's systems under test. The only reader of process.env in this workspace. Builds the
 * bundle with `wrangler deploy --dry-run` (the same bundle as a deploy) unless EDGE_SCRIPT names
 * one, seeds the host map into local KV from a registry, and stops on SIGTERM.
 *
 * Environment (defaults in brackets):
 *   EDGE_PORT            listen port (required)
 *   EDGE_HOST            listen address [127.0.0.1]
 *   EDGE_STATE_DIR       where the bundle, KV and cache data live [a new temp folder]
 *   EDGE_REGISTRY        registry file whose host map is seeded into KV [none: KV as persisted]
 *   EDGE_SCRIPT          a prebuilt bundle to run [build one]
 *   EDGE_VARIANT         edge | floor | passthrough | fetchput (benchmark baselines) [edge]
 *   EDGE_LOGIN_LIMIT     POSTs per minute per site+IP to wp-login.php / xmlrpc.php [5]
 *   ORIGIN_URL, BRIDGE_URL, ORIGIN_TIMEOUT_MS, TRACE_SAMPLE_RATE, UA_BLOCKLIST   worker vars
 *   EDGE_AUTH_KEY (or the first of EDGE_AUTH_KEYS), EDGE_PURGE_TOKEN, BRIDGE_TOKEN   secrets
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadRegistry } from '@wpfarm/common/registry/load';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { BASELINE_WORKERS, type Variant } from './baselines.ts';
import { hostMapBulk } from './publish-host-map.ts';

const here = dirname(fileURLToPath(import.meta.url));
const workspace = resolve(here, '..');
const COMPATIBILITY_DATE = '2025-09-01';

function fail(message: string): never {
  console.error(JSON.stringify({ level: 'error', msg: message }));
  process.exit(2);
}

function readEnv(env: NodeJS.ProcessEnv) {
  const port = Number(env.EDGE_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) fail('EDGE_PORT must be a port number');
  const variant = (env.EDGE_VARIANT ?? 'edge') as Variant;
  if (!['edge', 'floor', 'passthrough', 'fetchput'].includes(variant))
    fail('EDGE_VARIANT must be edge, floor, passthrough or fetchput');
  const loginLimit = Number(env.EDGE_LOGIN_LIMIT ?? 5);
  if (!Number.isInteger(loginLimit) || loginLimit < 1) fail('EDGE_LOGIN_LIMIT must be a positive integer');
  const key = env.EDGE_AUTH_KEY ?? env.EDGE_AUTH_KEYS?.split(',')[0]?.trim() ?? '';
  if (variant === 'edge' && key.length < 32)
    fail('EDGE_AUTH_KEY (or EDGE_AUTH_KEYS) must hold a key of 32+ characters');
  return {
    port,
    host: env.EDGE_HOST ?? '127.0.0.1',
    stateDir: env.EDGE_STATE_DIR ?? mkdtempSync(join(tmpdir(), 'edge-worker-')),
    registry: env.EDGE_REGISTRY,
    script: env.EDGE_SCRIPT,
    variant,
    loginLimit,
    bindings: Object.fromEntries(
      Object.entries({
        ORIGIN_URL: env.ORIGIN_URL ?? '',
        BRIDGE_URL: env.BRIDGE_URL ?? '',
        ORIGIN_TIMEOUT_MS: env.ORIGIN_TIMEOUT_MS,
        HOST_MAP_TTL_SECONDS: env.HOST_MAP_TTL_SECONDS,
        PURGE_STATE_TTL_SECONDS: env.PURGE_STATE_TTL_SECONDS,
        TRACE_SAMPLE_RATE: env.TRACE_SAMPLE_RATE,
        UA_BLOCKLIST: env.UA_BLOCKLIST ?? 'sqlmap,nikto,masscan,zgrab,wpscan,nuclei',
        EDGE_AUTH_KEY: key,
        EDGE_PURGE_TOKEN: env.EDGE_PURGE_TOKEN,
        BRIDGE_TOKEN: env.BRIDGE_TOKEN,
      }).filter((e): e is [string, string] => typeof e[1] === 'string'),
    ),
  };
}

/** Bundles the worker exactly as `wrangler deploy` would, into `outDir`; returns the script path. */
export async function buildBundle(outDir: string): Promise<string> {
  // The package's exports hide bin/; resolve its package.json and go from there.
  const wrangler = join(
    dirname(createRequire(import.meta.url).resolve('wrangler/package.json')),
    'bin/wrangler.js',
  );
  await promisify(execFile)(process.execPath, [wrangler, 'deploy', '--dry-run', '--outdir', outDir], {
    cwd: workspace,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return join(outDir, 'index.js');
}

async function main() {
  const cfg = readEnv(process.env);
  mkdirSync(cfg.stateDir, { recursive: true });
  const scriptPath =
    cfg.variant === 'edge' ? (cfg.script ?? (await buildBundle(join(cfg.stateDir, 'dist')))) : '';
  // workerd refuses module paths that climb out of the modules root, so root them at the bundle.
  const worker =
    cfg.variant === 'edge'
      ? { scriptPath: resolve(scriptPath), modulesRoot: dirname(resolve(scriptPath)) }
      : { script: BASELINE_WORKERS[cfg.variant] };
  // Miniflare 5 takes a new options shape; the documented v4 shape converts to it.
  const mf = new Miniflare({
    ...convertV4MiniflareOptions({
      host: cfg.host,
      port: cfg.port,
      defaultPersistRoot: join(cfg.stateDir, 'state'),
      workers: [
        {
          name: cfg.variant === 'edge' ? 'edge' : `edge-${cfg.variant}`,
          modules: true,
          ...worker,
          compatibilityDate: COMPATIBILITY_DATE,
          kvNamespaces: { EDGE_KV: 'edge-kv' },
          kvPersist: true,
          cachePersist: true,
          ratelimits: {
            LOGIN_LIMITER: { namespace_id: '1001', simple: { limit: cfg.loginLimit, period: 60 } },
          },
          bindings: cfg.bindings,
        },
      ],
    }),
    // One process per worker: no cross-process dev registry (it would route between the farm's
    // and the benchmark's workers), and no per-request console lines in the hot path.
    enableDevRegistry: false,
    logRequests: false,
  });
  const url = await mf.ready;
  if (cfg.registry) {
    const kv = await mf.getKVNamespace('EDGE_KV');
    for (const e of hostMapBulk(await loadRegistry(cfg.registry))) await kv.put(e.key, e.value);
    writeFileSync(join(cfg.stateDir, 'host-map.seeded'), `${new Date().toISOString()}\n`);
  }
  console.log(
    JSON.stringify({
      level: 'info',
      msg: 'edge worker listening',
      url: url.toString(),
      variant: cfg.variant,
    }),
  );
  const stop = async () => {
    await mf.dispose().catch(() => {});
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (import.meta.main) await main();
