/**
 * The stacks pass exactly the variables the services validate: each Node service's environment
 * (stack `environment` plus the keys its env template renders from secrets) goes through that
 * service's own config loader, and every variable the stack sets is one the service's sources name.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig as purgerConfig } from '@wpfarm/cache-purger/config';
import { loadConfig as routerConfig } from '@wpfarm/origin-router/config';
import { ROUTER_RUNTIME_ENV } from '@wpfarm/origin-router/runtime';
import { loadConfig as healthConfig } from '@wpfarm/proxysql-health/config';
import { loadBridgeConfig } from '@wpfarm/telemetry/bridge/config';
import { beforeAll, describe, expect, it } from 'vitest';
import { GENERATED, ROOT, type Service, STACKS, stackConfig } from './helpers.ts';

let cache: Record<string, Service>;
let services: Record<string, Service>;
let db: Record<string, Service>;
beforeAll(async () => {
  db = (await stackConfig([join(STACKS, 'db.yml')])).services;
  cache = (await stackConfig([join(STACKS, 'cache.yml'), join(GENERATED, 'cache.sites.yml')])).services;
  services = (await stackConfig([join(STACKS, 'services.yml'), join(GENERATED, 'services.sites.yml')]))
    .services;
});

/** Keys an env template renders (values are secrets: stand-ins of a valid length here). */
function templateEnv(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of readFileSync(join(STACKS, 'env', file), 'utf8').matchAll(/^([A-Z][A-Z0-9_]*)=/gm))
    out[m[1]!] = 's'.repeat(48);
  return out;
}

const envOf = (svc: Service, template?: string) => ({
  ...(Object.fromEntries(
    Object.entries(svc.environment ?? {}).map(([k, v]) => [k, String(v ?? '')]),
  ) as Record<string, string>),
  ...(template ? templateEnv(template) : {}),
});

/** Upper-case string literals in a workspace's non-test sources: the variables it can read. */
function namedIn(...workspaces: string[]): Set<string> {
  const out = new Set<string>();
  for (const ws of workspaces) {
    const dir = join(ROOT, ws, 'src');
    for (const f of readdirSync(dir, { recursive: true }).map(String)) {
      if (!f.endsWith('.ts') || f.endsWith('.test.ts')) continue;
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/['"`.]([A-Z][A-Z0-9_]{2,})\b/g))
        out.add(m[1]!);
    }
  }
  return out;
}

/** Read by the OpenTelemetry SDK (telemetry's --import), by Node or by glibc, not by the service's config. */
const SDK_VARS = /^(OTEL_|NODE_OPTIONS$|MALLOC_ARENA_MAX$)/;

describe('origin-router', () => {
  it.each([
    ['router-front', 'router-front.env.tmpl', 'front'],
    ['router-back', undefined, 'back'],
  ] as const)('%s: the stack environment passes the router config', (name, template, role) => {
    const config = routerConfig(envOf(services[name]!, template));
    expect(config.role).toBe(role);
    expect(config.registryFile).toBe('/etc/wpfarm/sites.yaml');
    if (role === 'front') {
      expect(config.front.nodes.map((n) => `${n.host}:${n.port}`)).toEqual([
        'cache_varnish-1:6081',
        'cache_varnish-2:6081',
        'cache_varnish-3:6081',
      ]);
      expect(config.front.edgeKeys).toHaveLength(1);
    }
    // the grace period covers the drain the router was configured with
    expect(config.drain.delayMs + config.drain.timeoutMs).toBeLessThan(50_000);
  });

  it.each(['router-front', 'router-back'])(
    '%s runs with the runtime settings the benchmark measured',
    (name) => {
      expect(envOf(services[name]!)).toMatchObject(ROUTER_RUNTIME_ENV);
    },
  );

  it('without the rendered secrets the front router refuses to start, naming the variable', () => {
    expect(() => routerConfig(envOf(services['router-front']!))).toThrow(/EDGE_AUTH_KEYS/);
  });

  it('every variable the stack sets is one the router reads', () => {
    const known = namedIn('origin-router');
    for (const name of ['router-front', 'router-back'])
      for (const key of Object.keys(
        envOf(services[name]!, name === 'router-front' ? 'router-front.env.tmpl' : undefined),
      ))
        if (!SDK_VARS.test(key)) expect(known.has(key), `${name}: ${key}`).toBe(true);
  });
});

describe('cache-purger', () => {
  it('the stack environment passes the purger config', () => {
    const config = purgerConfig(envOf(cache['cache-purger']!, 'cache-purger.env.tmpl'));
    expect(config.nodes.map((n) => n.url)).toEqual([
      'http://purge-varnish-1:6081',
      'http://purge-varnish-2:6081',
      'http://purge-varnish-3:6081',
    ]);
    expect(config.secretsDir).toBe('/run/secrets');
    expect(config.cloudflare?.plan).toBe('pro');
    expect(config.edge?.url).toBe('https://purge.farm.example');
    expect(config.shutdownGraceMs).toBeLessThan(20_000);
    // restart detection through each node's admin CLI, with the secret varnishd gets as -S
    expect(config.nodes.map((n) => n.admin && `${n.admin.host}:${n.admin.port}`)).toEqual([
      'purge-varnish-1:6082',
      'purge-varnish-2:6082',
      'purge-varnish-3:6082',
    ]);
    expect(config.varnishAdminSecretFile).toBe('/run/secrets/varnish_admin_secret');
    const varnish = cache['varnish-1'] as Service & { command: string[] };
    expect(varnish.command[varnish.command.indexOf('-S') + 1]).toBe(config.varnishAdminSecretFile);
    expect(config.consumer).toBe('purger-{{.Task.Slot}}'); // Swarm renders it per task
  });

  it('the varnish node names match the cache stack services', () => {
    const config = purgerConfig(envOf(cache['cache-purger']!, 'cache-purger.env.tmpl'));
    for (const n of config.nodes) expect(Object.keys(cache)).toContain(n.name);
  });

  it('every variable the stack sets is one the purger reads', () => {
    const known = namedIn('cache-purger');
    for (const key of Object.keys(envOf(cache['cache-purger']!, 'cache-purger.env.tmpl')))
      if (!SDK_VARS.test(key)) expect(known.has(key), key).toBe(true);
  });

  it("mounts every site's webhook secret under the name its registry entry gives, readable by the node user", () => {
    const secrets = (cache['cache-purger']!.secrets ?? []) as { target?: string; uid?: string }[];
    const targets = secrets.map((s) => s.target);
    for (const s of secrets.filter((s) => s.target?.startsWith('WEBHOOK_')))
      expect(s.uid, s.target).toBe('1000');
    for (const ref of ['WEBHOOK_SECRET_ALPHA', 'WEBHOOK_SECRET_BETA', 'WEBHOOK_SECRET_GAMMA']) {
      expect(targets).toContain(ref);
      expect(targets).toContain(`${ref}_PREVIOUS`);
    }
  });
});

describe('proxysql-health', () => {
  it.each([1, 2, 3])(
    'proxysql-health-%i: the stack environment passes the checker config, secrets from files',
    (n) => {
      const svc = db[`proxysql-health-${n}`]!;
      const mounted = new Set((svc.secrets ?? []).map((s) => `/run/secrets/${s.target ?? s.source}`));
      const read: string[] = [];
      const config = healthConfig(envOf(svc), (path) => {
        expect(mounted.has(path), `${path} is a mounted secret`).toBe(true);
        read.push(path);
        return `${'s'.repeat(40)}\n`;
      });
      expect(config.mysql).toMatchObject({
        host: `galera-${n}`,
        port: 3306,
        user: 'monitor',
        password: 's'.repeat(40),
      });
      expect(config.proxysql).toMatchObject({ host: `proxysql-${n}`, port: 6032, user: 'farmstats' });
      expect(config.drainToken).toBe('s'.repeat(40));
      expect(config.port).toBe(9200);
      expect(read.sort()).toEqual([
        '/run/secrets/health_drain_token',
        '/run/secrets/proxysql_monitor',
        '/run/secrets/proxysql_stats',
      ]);
    },
  );

  it('the checker logs in to ProxySQL as the read-only stats user proxysql.cnf defines', () => {
    const cnf = readFileSync(join(STACKS, '../proxysql/proxysql.cnf.tmpl'), 'utf8');
    expect(cnf).toContain(`stats_credentials="${db['proxysql-health-1']!.environment?.PROXYSQL_ADMIN_USER}:`);
    expect(cnf).toContain(`monitor_username="${db['proxysql-health-1']!.environment?.MYSQL_USER}"`);
  });

  it('every variable the stack sets is one the checker reads', () => {
    const known = namedIn('proxysql-health');
    // Connection settings are read as `${prefix}_HOST` etc. for each `target(env, 'PREFIX', ...)`.
    const src = readFileSync(join(ROOT, 'proxysql-health/src/config.ts'), 'utf8');
    for (const [, prefix] of src.matchAll(/target\(\w+, '([A-Z_]+)'/g))
      for (const suffix of ['HOST', 'PORT', 'SOCKET', 'USER', 'PASSWORD']) known.add(`${prefix}_${suffix}`);
    for (const key of Object.keys(envOf(db['proxysql-health-1']!)))
      if (!SDK_VARS.test(key)) expect(known.has(key.replace(/_FILE$/, '')), key).toBe(true);
  });
});

describe('telemetry bridge', () => {
  it('the stack environment passes the bridge config: the collector over gRPC, the token from its secret', () => {
    const svc = services['telemetry-bridge']!;
    const config = loadBridgeConfig(envOf(svc, 'telemetry-bridge.env.tmpl'));
    expect(config.sink).toMatchObject({ kind: 'grpc', endpoint: 'http://monitoring_alloy:4317' });
    expect(config).toMatchObject({ host: '0.0.0.0', port: 4318, token: 's'.repeat(48) });
    // The drain on SIGTERM ends inside the stack's grace period.
    expect(config.shutdownMs).toBeLessThan(Number.parseInt(String(svc.stop_grace_period), 10) * 1000);
  });

  it('every variable the stack sets is one the bridge reads', () => {
    const known = namedIn('telemetry');
    for (const key of Object.keys(envOf(services['telemetry-bridge']!, 'telemetry-bridge.env.tmpl')))
      if (!SDK_VARS.test(key)) expect(known.has(key), key).toBe(true);
  });
});

describe('WordPress mu-plugin', () => {
  it('the site stack sets the variables the mu-plugin reads, and mounts the secret it looks for', async () => {
    const php = (await stackConfig([join(GENERATED, 'sites/wp-beta.yml')])).services.php!;
    const plugin = readdirSync(join(ROOT, 'infra/wordpress/mu-plugins'), { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.php'))
      .map((f) => readFileSync(join(ROOT, 'infra/wordpress/mu-plugins', f), 'utf8'))
      .join('\n');
    for (const key of Object.keys(php.environment ?? {}).filter((k) => k.startsWith('FARM_')))
      expect(plugin, key).toContain(`'${key}'`);
    expect(php.environment?.FARM_WEBHOOK_SECRET_REF).toBe('WEBHOOK_SECRET_BETA');
    expect(plugin).toContain("'/run/secrets/'");
    expect((php.secrets ?? []).map((s) => s.target)).toContain('WEBHOOK_SECRET_BETA');
  });
});
