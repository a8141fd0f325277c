import { hostname } from 'node:os';

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
}

export interface Config {
  host: string;
  port: number;
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
  maxUrlsPerSite: number;
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

/** Thrown with every problem found, each naming its variable. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid cache-purger configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

/**
 * Validates the environment into a Config.
 * @throws ConfigError listing every problem, each naming its variable.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const str = (name: string, def?: string): string => {
    const v = env[name]?.trim();
    if (v) return v;
    if (def === undefined) problems.push(`${name} is required`);
    return def ?? '';
  };
  const int = (name: string, def: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name} must be a whole number between ${min} and ${max} (got "${raw}")`);
      return def;
    }
    return n;
  };
  const bool = (name: string, def: boolean): boolean => {
    const raw = env[name]?.trim().toLowerCase();
    if (!raw) return def;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false (got "${raw}")`);
    return def;
  };
  const url = (name: string, value: string): string => {
    try {
      const u = new URL(value);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
      return u.toString().replace(/\/$/, '');
    } catch {
      problems.push(`${name} must be an http(s) URL (got "${value}")`);
      return value;
    }
  };

  const redisUrl = str('REDIS_URL');
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl))
    problems.push('REDIS_URL must start with redis:// or rediss://');

  const nodes = parseNodes(str('VARNISH_NODES'), env.VARNISH_ADMIN, problems);

  const edgeUrl = env.EDGE_URL?.trim();
  let edge: Config['edge'];
  if (edgeUrl) {
    const token = str('EDGE_PURGE_TOKEN');
    edge = { url: url('EDGE_URL', edgeUrl), token };
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
    cloudflare = {
      apiUrl: url(
        'CLOUDFLARE_API_URL',
        env.CLOUDFLARE_API_URL?.trim() || 'https://api.cloudflare.com/client/v4',
      ),
      token: cfToken,
      plan,
      zones,
    };
  }

  const config: Config = {
    host: str('PURGER_HOST', '0.0.0.0'),
    port: int('PURGER_PORT', 8070, 0, 65535),
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
    maxUrlsPerSite: int('PURGE_MAX_URLS', 50, 1, 2_000),
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
  if (problems.length) throw new ConfigError(problems);
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
