/**
 * Every stack renders with `docker stack config` (schema + interpolation, offline) and keeps the
 * farm's deployment invariants: limits everywhere, a health check or a written reason, start-first
 * with rollback for stateless services, grace periods longer than each drain, no secret in an
 * environment value, versioned secret and config names, encrypted networks, placement by label.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOOPBACK_PURGERS } from '@wpfarm/common/peers/varnish';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SITE_PHP_ALIAS } from '../src/render.ts';
import { allStacks } from '../src/stacks.ts';
import { durationMs, farmEnv, type Service, STACKS, type StackDoc, stackConfig } from './helpers.ts';

/** Every stack with the files it is deployed with (src/stacks.ts, also used by the runbooks). */
const TIERS = Object.fromEntries(allStacks());

const rendered = new Map<string, StackDoc>();
beforeAll(async () => {
  // Sequential: docker's client is quick, and the 2-core CI box runs other suites meanwhile.
  for (const [name, files] of Object.entries(TIERS)) rendered.set(name, await stackConfig(files));
});

const each = (fn: (stack: string, name: string, svc: Service, doc: StackDoc) => void) => {
  for (const [stack, doc] of rendered)
    for (const [name, svc] of Object.entries(doc.services)) fn(stack, name, svc, doc);
};

/** Variables naming something secret: their value must be a file path, never the secret. */
const SECRETISH = /(SECRET|TOKEN|PASSWORD|PASSWD|API_KEY|AUTH_KEY|PRIVATE)/;

/** The networks create-networks.sh makes, with their subnets and options. */
function createdNetworks(): Map<string, { subnet: string; encrypted: boolean }> {
  const out = new Map<string, { subnet: string; encrypted: boolean }>();
  const text = readFileSync(join(STACKS, 'create-networks.sh'), 'utf8');
  const encryptedAll = /docker network create[^\n]*--opt encrypted/.test(text);
  for (const m of text.matchAll(/^create (\S+) (\S+)/gm))
    out.set(m[1]!, { subnet: m[2]!, encrypted: encryptedAll });
  return out;
}

describe('docker stack config', () => {
  it('renders every tier and every site stack with farm.env', () => {
    expect([...rendered.keys()]).toEqual(Object.keys(TIERS));
    for (const doc of rendered.values()) expect(Object.keys(doc.services).length).toBeGreaterThan(0);
  });

  it('refuses a deploy without farm.env (required variables fail instead of defaulting)', async () => {
    await expect(stackConfig(TIERS.cache!, {})).rejects.toThrow(/set in infra\/stacks\/farm.env/);
  });

  it('refuses a schema error (the check is not a no-op)', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'stack-'));
    const file = join(dir, 'bad.yml');
    writeFileSync(
      file,
      'version: "3.9"\nservices:\n  a:\n    image: x:1\n    deploy: { update_config: { order: sideways } }\n',
    );
    await expect(stackConfig([file])).rejects.toThrow(/order/);
  });
});

describe('invariants of every service', () => {
  it('has CPU and memory limits', () => {
    each((stack, name, svc) => {
      const limits = svc.deploy?.resources?.limits;
      expect(limits?.cpus, `${stack}/${name} cpus`).toBeTruthy();
      expect(limits?.memory, `${stack}/${name} memory`).toBeTruthy();
    });
  });

  it('has a health check, or a written reason (deploy label farm.healthcheck: "none: ...")', () => {
    each((stack, name, svc) => {
      const reason = svc.deploy?.labels?.['farm.healthcheck'];
      if (reason !== undefined) expect(reason, `${stack}/${name}`).toMatch(/^none: .{40,}/);
      else {
        expect(svc.healthcheck?.disable, `${stack}/${name}`).not.toBe(true);
        expect(svc.healthcheck?.test?.[0], `${stack}/${name} exec-form health check`).toBe('CMD');
      }
    });
  });

  it('updates stateless services start-first with rollback; stop-first only with a written reason', () => {
    let stateless = 0;
    each((stack, name, svc, doc) => {
      const update = svc.deploy?.update_config;
      const pinned = (svc.deploy?.placement?.constraints ?? []).some((c) => /-slot ==/.test(c));
      // A shared NFS volume (the sites' wp-content) is not task-local state.
      const local = (v: { type: string; source?: string }) =>
        v.type === 'bind' ||
        (v.type === 'volume' && doc.volumes?.[v.source ?? '']?.driver_opts?.type !== 'nfs');
      const isStateless =
        !(svc.volumes ?? []).some(local) &&
        !(svc.ports ?? []).some((p) => p.mode === 'host') &&
        svc.deploy?.mode !== 'global' &&
        !pinned;
      if (update?.order === 'start-first') {
        expect(update.failure_action, `${stack}/${name}`).toBe('rollback');
        expect(svc.deploy?.rollback_config?.order, `${stack}/${name}`).toBe('start-first');
      } else {
        expect(isStateless, `${stack}/${name} is stateless but not start-first`).toBe(false);
        expect(update?.order, `${stack}/${name}`).toBe('stop-first');
        expect(svc.deploy?.labels?.['farm.update-order'], `${stack}/${name}`).toMatch(/^stop-first: .{20,}/);
      }
      if (isStateless) stateless++;
    });
    expect(stateless).toBeGreaterThanOrEqual(8); // routers, bridge, purger, redis-master, 2 per site
  });

  it('gives each service a stop grace period longer than its drain', () => {
    each((stack, name, svc) => {
      const env = svc.environment ?? {};
      const drain =
        Number(env.DRAIN_DELAY_MS ?? 0) +
        Number(env.DRAIN_TIMEOUT_MS ?? 0) +
        Number(env.SHUTDOWN_GRACE_MS ?? 0);
      expect(durationMs(svc.stop_grace_period), `${stack}/${name}`).toBeGreaterThan(drain);
      expect(svc.stop_grace_period, `${stack}/${name} sets its grace period`).toBeTruthy();
    });
  });

  it('never puts a secret in an environment value', () => {
    let checked = 0;
    each((stack, name, svc) => {
      for (const [key, value] of Object.entries(svc.environment ?? {})) {
        if (!SECRETISH.test(key)) continue;
        checked++;
        const ok = /_FILE$/.test(key) || /_REF$/.test(key) || /^\/run\/secrets(\/|$)/.test(String(value));
        expect(ok, `${stack}/${name} ${key}=${value}`).toBe(true);
      }
    });
    expect(checked).toBeGreaterThan(0);
  });

  it('is placed by node label or role (global services excepted)', () => {
    each((stack, name, svc) => {
      if (svc.deploy?.mode === 'global' && !svc.deploy.placement) return;
      const constraints = svc.deploy?.placement?.constraints ?? [];
      expect(
        constraints.some((c) => /^node\.(labels\.|role)/.test(c)),
        `${stack}/${name}`,
      ).toBe(true);
    });
  });

  it('runs pinned images (a tag, never latest)', () => {
    each((stack, name, svc) => {
      expect(svc.image, `${stack}/${name}`).toMatch(/:[\w.-]+$/);
      expect(svc.image, `${stack}/${name}`).not.toMatch(/:latest$/);
    });
  });

  it('attaches only to encrypted overlay networks', () => {
    const created = createdNetworks();
    each((stack, name, svc, doc) => {
      for (const net of Object.keys(svc.networks ?? {})) {
        const decl = doc.networks?.[net];
        if (decl?.external) expect(created.get(net)?.encrypted, `${stack}/${name} → ${net}`).toBe(true);
        else expect(decl?.driver_opts?.encrypted, `${stack}/${name} → ${net}`).toBe('true');
      }
    });
  });
});

describe('secrets and configs', () => {
  it('have versioned names (Swarm cannot update them in place)', () => {
    for (const [stack, doc] of rendered)
      for (const [key, s] of [...Object.entries(doc.secrets ?? {}), ...Object.entries(doc.configs ?? {})])
        expect(s.name, `${stack}: ${key}`).toMatch(/(_v\d+|^site_registry_[0-9a-f]{12})$/);
  });

  it('reference files that exist', () => {
    for (const [stack, doc] of rendered)
      for (const [key, s] of [...Object.entries(doc.secrets ?? {}), ...Object.entries(doc.configs ?? {})])
        if (!s.external) expect(existsSync(s.file ?? ''), `${stack}: ${key} → ${s.file}`).toBe(true);
  });

  it('templates only reference secrets mounted in every service that uses them', () => {
    let templates = 0;
    for (const [stack, doc] of rendered) {
      const all = { ...doc.secrets, ...doc.configs };
      for (const [key, s] of Object.entries(all)) {
        if (s.template_driver !== 'golang') continue;
        templates++;
        const wanted = [...readFileSync(s.file!, 'utf8').matchAll(/\{\{\s*secret\s+"([^"]+)"\s*\}\}/g)].map(
          (m) => m[1]!,
        );
        for (const [name, svc] of Object.entries(doc.services)) {
          const mounts = [...(svc.secrets ?? []), ...(svc.configs ?? [])];
          if (!mounts.some((m) => m.source === key)) continue;
          const targets = new Set((svc.secrets ?? []).map((m) => m.target ?? m.source));
          for (const w of wanted)
            expect(targets.has(w), `${stack}/${name}: ${key} needs secret "${w}"`).toBe(true);
        }
      }
    }
    expect(templates).toBeGreaterThanOrEqual(8);
  });

  it('env templates hold secret references only, never a value', () => {
    const dir = join(STACKS, 'env');
    for (const f of readdirSync(dir)) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (!line.trim() || line.startsWith('#')) continue;
        expect(line, `${f}`).toMatch(/^[A-Z][A-Z0-9_]*=\{\{ secret "[a-z0-9_]+" \}\}$/);
      }
    }
  });

  it('farm.env holds no secret (it is committed)', () => {
    for (const key of Object.keys(farmEnv()))
      if (!key.endsWith('_VERSION')) expect(key).not.toMatch(SECRETISH);
  });
});

describe('tier specifics', () => {
  it('ingress: one catch-all router to the front routers, Cloudflare ranges as trusted forwarders', () => {
    const cfRanges = farmEnv().CLOUDFLARE_IPS!;
    const dynamic = parse(
      readFileSync(join(STACKS, 'traefik/dynamic.yml.tmpl'), 'utf8').replace(
        '{{ env "CLOUDFLARE_IPS" }}',
        cfRanges,
      ),
    );
    expect(dynamic.http.middlewares.crowdsec.plugin.crowdsec.forwardedHeadersTrustedIPs).toEqual(
      cfRanges.split(','),
    );
    const routers = Object.values(dynamic.http.routers) as { rule: string; service: string }[];
    expect(routers).toHaveLength(1);
    expect(routers[0]).toMatchObject({ rule: 'PathPrefix(`/`)', service: 'router-front' });
    expect(dynamic.http.services['router-front'].loadBalancer.servers[0].url).toBe(
      'http://services_router-front:8080',
    );
    // Cloudflare's ranges live in farm.env; Traefik's template and the front routers read them there.
    const cf = farmEnv().CLOUDFLARE_IPS!.split(',');
    for (const cidr of ['173.245.48.0/20', '104.16.0.0/13', '2606:4700::/32']) expect(cf).toContain(cidr);
    const traefik = readFileSync(join(STACKS, 'traefik/traefik.yml.tmpl'), 'utf8');
    const asSwarmRenders = parse(
      traefik
        .replace('{{ env "CLOUDFLARE_IPS" }}', cf.join(','))
        .replaceAll('{{ env "DO_VPC_CIDR" }}', '10.10.0.0/16'),
    );
    expect(asSwarmRenders.entryPoints.websecure.forwardedHeaders.trustedIPs).toEqual(cf);
    expect(asSwarmRenders.entryPoints.websecure.proxyProtocol.trustedIPs).toEqual(['10.10.0.0/16']);
    const svc = rendered.get('ingress')!.services.traefik!;
    expect(svc.environment?.CLOUDFLARE_IPS).toBe(cf.join(','));
    expect(rendered.get('services')!.services['router-front']?.environment?.CLIENT_ALLOWLIST).toBe(
      cf.join(','),
    );
    expect(svc.deploy?.placement?.constraints).toContain('node.role == manager');
    expect(svc.deploy?.labels ?? {}).not.toHaveProperty('traefik.http.routers');
  });

  it('cache: three Varnish nodes pinned by label, with bounded malloc and Transient storage', () => {
    const doc = rendered.get('cache')!;
    for (const n of [1, 2, 3]) {
      const v = doc.services[`varnish-${n}`] as Service & { command: string[] };
      expect(v.deploy?.placement?.constraints).toEqual([`node.labels.farm.cache-slot == ${n}`]);
      expect(v.command).toContain(`malloc,${farmEnv().VARNISH_MEMORY}`);
      expect(v.command).toContain(`Transient=malloc,${farmEnv().VARNISH_TRANSIENT}`);
    }
  });

  it('cache: Redis and Sentinel use dnsrr and announce service names', () => {
    const doc = rendered.get('cache')!;
    for (const s of ['redis-1', 'redis-2', 'redis-3', 'sentinel-1', 'sentinel-2', 'sentinel-3'])
      expect(doc.services[s]?.deploy?.endpoint_mode, s).toBe('dnsrr');
    expect(readFileSync(join(STACKS, 'redis/redis.conf'), 'utf8')).toMatch(
      /^replica-announce-ip \{\{ \.Service\.Name \}\}$/m,
    );
    expect(readFileSync(join(STACKS, 'redis/sentinel.conf'), 'utf8')).toMatch(
      /^sentinel announce-ip \{\{ \.Service\.Name \}\}$/m,
    );
  });

  it('db: three single-replica Galera services pinned by label, ProxySQL with galera hostgroups', () => {
    const doc = rendered.get('db')!;
    for (const n of [1, 2, 3]) {
      const g = doc.services[`galera-${n}`]!;
      expect(g.deploy?.replicas).toBe(1);
      expect(g.deploy?.endpoint_mode).toBe('dnsrr');
      expect(g.deploy?.placement?.constraints).toEqual([`node.labels.farm.db-slot == ${n}`]);
      expect(doc.services[`proxysql-health-${n}`]?.deploy?.placement?.constraints).toEqual([
        `node.labels.farm.db-slot == ${n}`,
      ]);
    }
    const cnf = readFileSync(join(STACKS, '../proxysql/proxysql.cnf.tmpl'), 'utf8');
    expect(cnf).toMatch(/mysql_galera_hostgroups=\s*\(\s*\{[^}]*writer_hostgroup=10[^}]*max_writers=1/s);
    for (const n of [1, 2, 3]) expect(cnf).toContain(`address="db_galera-${n}"`);
  });

  it('services: the routers trust exactly the subnets create-networks.sh assigns', () => {
    const created = createdNetworks();
    const doc = rendered.get('services')!;
    expect(doc.services['router-front']?.environment?.TRUSTED_HOPS).toBe(created.get('farm_edge')?.subnet);
    expect(doc.services['router-back']?.environment?.TRUSTED_HOPS).toBe(created.get('farm_cache')?.subnet);
    const nginxConf = readFileSync(join(STACKS, '../docker/wordpress-nginx.conf'), 'utf8');
    expect(nginxConf).toContain(`set_real_ip_from ${created.get('farm_app')?.subnet};`);
  });

  it('cache: Varnish takes purges from loopback and farm_purge only, which only Varnish and the purger join', () => {
    const created = createdNetworks();
    const acl = readFileSync(join(STACKS, 'varnish/purgers.vcl'), 'utf8');
    const entries = [...acl.matchAll(/^\s*"([^"]+)"(?:\/(\d+))?;/gm)].map((m) =>
      m[2] ? `${m[1]}/${m[2]}` : m[1],
    );
    expect(entries).toEqual([...LOOPBACK_PURGERS, created.get('farm_purge')?.subnet]);
    const joined: string[] = [];
    for (const [stack, doc] of rendered)
      for (const [name, svc] of Object.entries(doc.services))
        if (Object.keys(svc.networks ?? {}).includes('farm_purge')) joined.push(`${stack}/${name}`);
    expect(joined.sort()).toEqual([
      'cache/cache-purger',
      'cache/varnish-1',
      'cache/varnish-2',
      'cache/varnish-3',
    ]);
    const cache = rendered.get('cache')!;
    // The purger must not share farm_cache with Varnish: its requests would come from that range.
    expect(Object.keys(cache.services['cache-purger']?.networks ?? {})).not.toContain('farm_cache');
    for (const n of [1, 2, 3]) {
      const mount = cache.services[`varnish-${n}`]?.configs?.find((c) => c.target?.endsWith('/purgers.vcl'));
      expect(mount?.source).toBe('varnish_purgers');
    }
    expect(cache.configs?.varnish_purgers?.file).toMatch(/varnish\/purgers\.vcl$/);
  });

  it('every external network is created by create-networks.sh', () => {
    const created = createdNetworks();
    for (const [stack, doc] of rendered)
      for (const [net, decl] of Object.entries(doc.networks ?? {}))
        if (decl.external) expect(created.has(net), `${stack}: ${net}`).toBe(true);
  });
});

describe('a site reaches only its own php-fpm (regression: one nginx served every site’s PHP)', () => {
  const conf = readFileSync(join(STACKS, '../docker/wordpress-nginx.conf'), 'utf8');
  const fastcgiHost = (): string => {
    const pass = /^\s*fastcgi_pass\s+(\S+):9000;/m.exec(conf)?.[1] ?? '';
    const variable = /^\$(\w+)$/.exec(pass)?.[1];
    return variable ? (new RegExp(`^\\s*set \\$${variable} (\\S+);`, 'm').exec(conf)?.[1] ?? '') : pass;
  };

  it('nginx names php-fpm by an alias that exists on the site stack’s private network only', () => {
    const host = fastcgiHost();
    expect(host).toBe(SITE_PHP_ALIAS);
    for (const [stack, doc] of rendered) {
      if (!stack.startsWith('wp-')) continue;
      const nets = doc.services.php?.networks as Record<string, { aliases?: string[] } | null>;
      expect(nets.site?.aliases, stack).toEqual([host]);
      for (const [net, decl] of Object.entries(nets))
        if (net !== 'site') expect(decl?.aliases ?? [], `${stack}/php on ${net}`).not.toContain(host);
      expect(doc.networks?.site?.external, `${stack}: site network is the stack's own`).not.toBe(true);
    }
  });

  it('no service on a shared network answers to that name (Swarm adds each short service name)', () => {
    const host = fastcgiHost();
    for (const [stack, doc] of rendered)
      for (const [name, svc] of Object.entries(doc.services)) {
        const shared = Object.keys(svc.networks ?? {}).filter((n) => doc.networks?.[n]?.external);
        if (shared.length) expect(name, `${stack}/${name} on ${shared.join(',')}`).not.toBe(host);
      }
  });

  it('nginx resolves php-fpm at run time through Docker’s resolver, not once at start', () => {
    expect(conf).toMatch(/^\s*resolver 127\.0\.0\.11 valid=\d+s/m);
    expect(conf).toMatch(/^\s*fastcgi_pass \$\w+:9000;/m);
  });
});

describe('cache: the purger names each Varnish by an alias that exists on farm_purge only', () => {
  // A service name resolves on every network the service and the asker share, to one address
  // (farm_mon's in the failing deploy): BANs sent to `varnish-1` left from the purger's address
  // on that network and met acl purgers (farm_purge only) with a 403. An alias is per network.
  const purgerHosts = () => {
    const env = rendered.get('cache')!.services['cache-purger']!.environment ?? {};
    const nodes = String(env.VARNISH_NODES ?? '')
      .split(',')
      .map((pair) => {
        const [name = '', url = ''] = pair.split(/=(.*)/s);
        return { name, host: new URL(url).hostname };
      });
    const admin = String(env.VARNISH_ADMIN ?? '')
      .split(',')
      .map((pair) => {
        const [name = '', addr = ''] = pair.split(/=(.*)/s);
        return { name, host: addr.split(':')[0]! };
      });
    return [...nodes, ...admin];
  };

  it('every host in VARNISH_NODES and VARNISH_ADMIN is a farm_purge alias of that node, defined nowhere else', () => {
    const hosts = purgerHosts();
    expect(hosts.length).toBe(6); // 3 nodes × (purge URL, admin address)
    for (const { name, host } of hosts) {
      const defined: string[] = [];
      for (const [stack, doc] of rendered)
        for (const [svcName, svc] of Object.entries(doc.services)) {
          // A service (or task) name resolves on every network: never usable as a purge host.
          expect([svcName, `${stack}_${svcName}`], `${host} is a service name`).not.toContain(host);
          for (const [net, opts] of Object.entries(svc.networks ?? {}))
            if (((opts as { aliases?: string[] } | null)?.aliases ?? []).includes(host))
              defined.push(`${stack}/${svcName}@${net}`);
        }
      expect(defined, host).toEqual([`cache/${name}@farm_purge`]);
    }
  });

  it('the purger joins farm_purge, the network those aliases live on', () => {
    expect(Object.keys(rendered.get('cache')!.services['cache-purger']!.networks ?? {})).toContain(
      'farm_purge',
    );
  });
});
