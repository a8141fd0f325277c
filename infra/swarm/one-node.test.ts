/**
 * The one-node override applied to the real production stacks (rendered by `docker stack config`,
 * client only): what it changes is exactly its rules, and nothing else differs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { farmEnv, stackConfig } from '../src/stack-config.ts';
import { allStacks } from '../src/stacks.ts';
import { type Doc, toOneNode } from './one-node.ts';
import { localEnv, localPorts, onePlan } from './profile.ts';

const IMAGES = {
  'redis:7.2': 'wpfarm-base/redis:7',
  'haproxy:2.9': 'wpfarm-base/haproxy:2',
  'node:24-bookworm-slim': 'wpfarm-base/node:24',
};
const plan = onePlan({ images: IMAGES, base: 29000, cpus: 2 });
const secondsOf = (d: string | undefined) => Number(/^(\d+)s$/.exec(d ?? '')?.[1] ?? Number.NaN);
const prod = new Map<string, Doc>();
const local = new Map<string, Doc>();

beforeAll(async () => {
  const env = localEnv(farmEnv(), '172.18.0.0/16');
  for (const [name, files] of allStacks()) {
    const doc = (await stackConfig(files, env)) as unknown as Doc;
    prod.set(name, doc);
    local.set(name, toOneNode(name, doc, plan));
  }
});

const services = (m: Map<string, Doc>) =>
  [...m].flatMap(([stack, doc]) => Object.entries(doc.services).map(([name, svc]) => ({ stack, name, svc })));

describe('the one-node override', () => {
  it('puts every service behind DNS round robin (no IPVS for VIPs here)', () => {
    for (const { stack, name, svc } of services(local))
      expect(svc.deploy?.endpoint_mode, `${stack}/${name}`).toBe('dnsrr');
  });

  it('drops placement, per-node maxima and reservations; caps CPU limits at the cores', () => {
    for (const { stack, name, svc } of services(local)) {
      expect(svc.deploy?.placement, `${stack}/${name}`).toBeUndefined();
      expect(svc.deploy?.resources?.reservations, `${stack}/${name}`).toBeUndefined();
      expect(Number(svc.deploy?.resources?.limits?.cpus ?? 0)).toBeLessThanOrEqual(2);
    }
    // …which production has (the rule is not a no-op)
    expect(prod.get('db')!.services['galera-1']!.deploy?.placement).toBeTruthy();
  });

  it('caps replicas at two and gives health checks a 30 s floor (docker exec is the cost on one node)', () => {
    for (const { stack, name, svc } of services(local)) {
      expect(svc.deploy?.replicas ?? 1, `${stack}/${name}`).toBeLessThanOrEqual(2);
      const hc = svc.healthcheck as { interval?: string; timeout?: string } | undefined;
      if (hc?.interval) expect(secondsOf(hc.interval), `${stack}/${name}`).toBeGreaterThanOrEqual(30);
      if (hc?.timeout) expect(secondsOf(hc.timeout), `${stack}/${name}`).toBeGreaterThanOrEqual(30);
    }
    expect(prod.get('services')!.services['router-front']!.deploy?.replicas).toBe(3);
  });

  it('publishes exactly the local port plan, in host mode', () => {
    const published = services(local).flatMap(({ stack, name, svc }) =>
      (svc.ports ?? []).map((p) => [`${stack}/${name}/${p.target}`, p.published, p.mode]),
    );
    expect(Object.fromEntries(published.map(([k, v]) => [k, v]))).toEqual(localPorts(29000));
    for (const [, , mode] of published) expect(mode).toBe('host');
    expect(new Set(published.map(([, v]) => v)).size).toBe(published.length);
  });

  it('swaps official images for the local bases and leaves the farm’s own images alone', () => {
    const cache = local.get('cache')!;
    expect(cache.services['redis-1']!.image).toBe('wpfarm-base/redis:7');
    expect(cache.services['cache-purger']!.image).toBe('wpfarm/cache-purger:local');
  });

  it('replaces Traefik by its stand-in and leaves out what cannot run here, with reasons', () => {
    expect(Object.keys(local.get('ingress')!.services)).toEqual(['traefik-standin']);
    const mon = Object.keys(local.get('monitoring')!.services).sort();
    expect(mon).toEqual(['alertmanager', 'prometheus', 'webhook-standin']);
    for (const reason of Object.values(plan.leftOut)) expect(reason.length).toBeGreaterThan(20);
    // the left-out services' secrets and volumes go with them
    expect(Object.keys(local.get('monitoring')!.secrets ?? {})).not.toContain('grafana_admin');
  });

  it('turns NFS volumes into local ones', () => {
    const site = [...local.keys()].find((s) => s.startsWith('wp-'))!;
    expect(prod.get(site)!.volumes).toMatchObject({ content: { driver_opts: { type: 'nfs' } } });
    expect(local.get(site)!.volumes).toEqual({ content: { driver: 'local' } });
  });

  it('changes nothing else: stripped of the rules’ fields, each kept service equals production', () => {
    const strip = (svc: Doc['services'][string]) => {
      const s = structuredClone(svc);
      delete s.image;
      delete s.ports;
      delete s.environment;
      delete s.healthcheck;
      if (s.deploy) {
        delete s.deploy.replicas;
        delete s.deploy.endpoint_mode;
        delete s.deploy.placement;
        if (s.deploy.resources) {
          delete s.deploy.resources.reservations;
          if (s.deploy.resources.limits) delete s.deploy.resources.limits.cpus;
        }
      }
      return s;
    };
    let compared = 0;
    for (const [stack, doc] of local)
      for (const [name, svc] of Object.entries(doc.services)) {
        const original = prod.get(stack)!.services[name];
        if (!original) continue; // a stand-in or a local helper
        expect(strip(svc), `${stack}/${name}`).toEqual(strip(original));
        const test = (x: typeof svc) => (x.healthcheck as { test?: string[] } | undefined)?.test;
        expect(test(svc), `${stack}/${name} health check`).toEqual(test(original));
        const extra = plan.environment?.[`${stack}/${name}`];
        const expected =
          original.environment || extra ? { ...(original.environment as object), ...extra } : undefined;
        expect(svc.environment, `${stack}/${name} environment`).toEqual(expected);
        compared++;
      }
    expect(compared).toBeGreaterThan(30);
  });
});
