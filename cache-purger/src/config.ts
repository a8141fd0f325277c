import { hostname } from 'node:os';
import { ConfigError, type Env, envReader } from '@wpfarm/common/config/env';
import { CONNECTION_LIMIT_DEFAULTS, type ConnectionLimits } from '@wpfarm/common/http-limits';
import { CLOUDFLARE_LIMITS } from './cloudflare.ts';

/**
 * The purger's configuration, read once from the environment by server.ts. Every problem names
 * the variable. Defaults are listed in README.md (one section per option).
 */

/** One Varnish node of the cache tier. */
export interface VarnishNode {
  name: string;
  /** Base URL the BAN/PURGE requests go to, e.g. `http://varnish-1:6081`. */
  url: string;
  /** Optional `host:port` of the node's admin CLI, used to detect restarts (restart-time skipping). */
  admin?: { host: string; port: number; secretFile?: string };
}

export type CloudflarePlan = 'free' | 'pro' | 'business' | 'enterprise';

export interface CloudflareConfig {
  apiUrl: string;
  token: string;
  plan: CloudflarePlan;
  /** Zone id per site id; `*` is the fallback for sites not listed. */
  zones: Record<string, string>;
  /**
   * URLs per `files` call: the plan's documented figure (cloudflare.ts), or lower for an account
   * still on an older limit (Cloudflare long allowed 30 a call).
   */
  urlsPerCall: number;
}

export interface Config {
  host: string;
  port: number;
  /** What a client connection may hold: a silent one is closed after the headers timeout. */
  connections: ConnectionLimits;
  redisUrl: string;
  registryFile: string;
  /** Folder with one file per `webhookSecretRef` (Docker secrets), read when the env var is absent. */
  secretsDir: string | undefined;
  nodes: VarnishNode[];
  varnishPurgeSecret: string;
  /** Varnish admin secret file (`-S`), needed only with admin addresses. */
  varnishAdminSecretFile: string | undefined;
  edge: { url: string; token: string } | undefined;
  cloudflare: CloudflareConfig | undefined;
  consumer: string;
  coalesceMs: number;
  /** URLs in one webhook above which Varnish bans the site's hosts whole (plan.ts, rule job-urls). */
  maxJobUrls: number;
  batchSize: number;
  xkeyBatch: number;
  softPurge: boolean;
  requestTimeoutMs: number;
  retryBaseMs: number;
  retryMaxMs: number;
  claimIdleMs: number;
  jobTtlSeconds: number;
  nodeProbeMs: number;
  retryAfterSeconds: number;
  shutdownGraceMs: number;
  logLevel: string;
}

export { ConfigError };

/**
 * Validates the environment into a Config.
 * @throws ConfigError listing every problem, each naming its variable.
 */
export function loadConfig(env: Env): Config {
  const r = envReader(env);
  // Problems found by the list parsers below join the reader's own at r.done().
  const problems: string[] = [];
  const { str, int, bool } = r;
  const redisUrl = str('REDIS_URL');
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl))
    problems.push('REDIS_URL must start with redis:// or rediss://');

  const nodes = parseNodes(str('VARNISH_NODES'), env.VARNISH_ADMIN, problems);

  const edgeUrl = env.EDGE_URL?.trim();
  let edge: Config['edge'];
  if (edgeUrl) {
    const token = str('EDGE_PURGE_TOKEN');
    edge = { url: r.url('EDGE_URL'), token };
  }

  let cloudflare: CloudflareConfig | undefined;
  const cfToken = env.CLOUDFLARE_API_TOKEN?.trim();
  if (cfToken) {
    const plan = (env.CLOUDFLARE_PLAN?.trim() || 'free') as CloudflarePlan;
    if (!['free', 'pro', 'business', 'enterprise'].includes(plan))
      problems.push(`CLOUDFLARE_PLAN must be free, pro, business or enterprise (got "${plan}")`);
    const zones: Record<string, string> = {};
    for (const pair of str('CLOUDFLARE_ZONES').split(',').filter(Boolean)) {
      const [site, zone] = pair.split('=').map((s) => s.trim());
      if (!site || !zone || !/^[A-Za-z0-9]{1,64}$/.test(zone))
        problems.push(`CLOUDFLARE_ZONES entry "${pair}" must be site=zoneId (or *=zoneId)`);
      else zones[site] = zone;
    }
    // An unknown plan is reported above; the smallest documented figure stands in meanwhile.
    const planMax = CLOUDFLARE_LIMITS[plan]?.maxUrls ?? CLOUDFLARE_LIMITS.free.maxUrls;
    cloudflare = {
      apiUrl: r.url('CLOUDFLARE_API_URL', 'https://api.cloudflare.com/client/v4'),
      token: cfToken,
      plan,
      zones,
      urlsPerCall: int('CLOUDFLARE_URLS_PER_CALL', planMax, 1, planMax),
    };
  }

  const config: Config = {
    host: str('PURGER_HOST', '0.0.0.0'),
    port: int('PURGER_PORT', 8070, 0, 65535),
    connections: {
      headersTimeoutMs: int(
        'PURGER_HEADERS_TIMEOUT_MS',
        CONNECTION_LIMIT_DEFAULTS.headersTimeoutMs,
        100,
        600_000,
      ),
      requestTimeoutMs: int(
        'PURGER_RECEIVE_TIMEOUT_MS',
        CONNECTION_LIMIT_DEFAULTS.requestTimeoutMs,
        100,
        600_000,
      ),
      keepAliveTimeoutMs: int(
        'PURGER_KEEPALIVE_TIMEOUT_MS',
        CONNECTION_LIMIT_DEFAULTS.keepAliveTimeoutMs,
        100,
        3_600_000,
      ),
      maxConnections: int('PURGER_MAX_CONNECTIONS', CONNECTION_LIMIT_DEFAULTS.maxConnections, 1, 1_000_000),
    },
    redisUrl,
    registryFile: str('REGISTRY_FILE'),
    secretsDir: env.WEBHOOK_SECRETS_DIR?.trim() || undefined,
    nodes,
    varnishPurgeSecret: str('VARNISH_PURGE_SECRET'),
    varnishAdminSecretFile: env.VARNISH_ADMIN_SECRET_FILE?.trim() || undefined,
    edge,
    cloudflare,
    consumer: str('PURGER_CONSUMER', hostname()),
    coalesceMs: int('PURGE_COALESCE_MS', 50, 0, 10_000),
    maxJobUrls: int('PURGE_MAX_URLS', 50, 1, 2_000),
    batchSize: int('PURGE_BATCH', 500, 1, 10_000),
    xkeyBatch: int('PURGE_XKEY_BATCH', 100, 1, 250),
    softPurge: bool('PURGE_SOFT', false),
    requestTimeoutMs: int('PURGE_REQUEST_TIMEOUT_MS', 5_000, 100, 120_000),
    retryBaseMs: int('PURGE_RETRY_BASE_MS', 200, 1, 60_000),
    retryMaxMs: int('PURGE_RETRY_MAX_MS', 10_000, 1, 600_000),
    claimIdleMs: int('PURGE_CLAIM_IDLE_MS', 60_000, 100, 86_400_000),
    jobTtlSeconds: int('PURGE_JOB_TTL_S', 86_400, 60, 30 * 86_400),
    nodeProbeMs: int('PURGE_NODE_PROBE_MS', 5_000, 100, 3_600_000),
    retryAfterSeconds: int('PURGE_RETRY_AFTER_S', 5, 1, 3_600),
    shutdownGraceMs: int('SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    logLevel: str('LOG_LEVEL', 'info'),
  };
  if (config.claimIdleMs <= config.requestTimeoutMs)
    problems.push(
      'PURGE_CLAIM_IDLE_MS must be larger than PURGE_REQUEST_TIMEOUT_MS (or a live purger loses its entries)',
    );
  if (nodes.some((n) => n.admin && !n.admin.secretFile) && !config.varnishAdminSecretFile)
    problems.push('VARNISH_ADMIN_SECRET_FILE is required when a VARNISH_ADMIN entry has no @secret-file');
  for (const p of problems) r.problem(p);
  r.done();
  return config;
}

/** `VARNISH_NODES=varnish-1=http://h:6081,varnish-2=http://h2:6081`; `VARNISH_ADMIN=varnish-1=h:6082,...`. */
function parseNodes(raw: string, adminRaw: string | undefined, problems: string[]): VarnishNode[] {
  const nodes: VarnishNode[] = [];
  for (const pair of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    if (eq <= 0 || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) {
      problems.push(`VARNISH_NODES entry "${pair}" must be name=http://host:port (name: a-z 0-9 -)`);
      continue;
    }
    try {
      const u = new URL(value);
      if (u.protocol !== 'http:') throw new Error('scheme');
      if (nodes.some((n) => n.name === name)) problems.push(`VARNISH_NODES names "${name}" twice`);
      nodes.push({ name, url: u.origin });
    } catch {
      problems.push(`VARNISH_NODES entry "${pair}": "${value}" is not an http:// URL`);
    }
  }
  if (raw && nodes.length === 0) problems.push('VARNISH_NODES lists no node');
  for (const pair of (adminRaw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([a-z0-9-]+)=([^:\s]+):(\d{1,5})(?:@(\S+))?$/.exec(pair);
    const node = m && nodes.find((n) => n.name === m[1]);
    if (!m || !node)
      problems.push(
        `VARNISH_ADMIN entry "${pair}" must be <node name from VARNISH_NODES>=host:port[@secret-file]`,
      );
    else node.admin = { host: m[2]!, port: Number(m[3]), ...(m[4] ? { secretFile: m[4] } : {}) };
  }
  return nodes;
}
