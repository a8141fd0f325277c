/**
 * The one-node override: how the local Swarm profile turns a production stack, as `docker stack
 * config` renders it from the repository's own files, into the stack it deploys on one node. Pure:
 * every rule is here, named with its reason, and nothing else differs between the two (the tests
 * check that). The production files are never copied or edited by hand.
 *
 * The rules, for what one Debian machine without IPVS or Docker Hub cannot give:
 * - `endpoint_mode: dnsrr` everywhere: the kernel has no IPVS, so Swarm VIPs do not route;
 * - published ports in `mode: host`, remapped to the local port plan (three `proxysql-health`
 *   publish 9200, one per DB node in production; here they share one node);
 * - no placement constraints, preferences or per-node maxima (one node holds every label's tasks);
 * - no reservations, CPU limits capped at the machine's cores (Docker refuses a larger limit);
 * - at most two replicas of a service (two keep every rolling update and failover meaningful;
 *   a third on the same node only adds load on 2 cores);
 * - health checks at least every 30 s with a 30 s timeout: each probe is a `docker exec`, which
 *   costs ~0.23 s of CPU in dockerd, containerd and runc on this 2-core VM (20 `docker exec true`
 *   measured against the idle farm), so ~40 tasks probed every 10 s took ~0.9 of the 2 cores
 *   before a request came in (the idle farm used 63% of the machine); a probe that times out under
 *   that load gets a healthy task killed, whose restart adds more load. Every 30 s gives the
 *   rolling-update test its headroom; new tasks take up to 30 s longer to turn healthy;
 * - official images → the Debian-built local bases (`infra/swarm/bases.ts`);
 * - NFS volumes → local volumes (no NFS server; one node shares a local volume between replicas);
 * - what cannot be installed here is replaced by a stand-in (named `*-standin`) or left out, each
 *   with its reason in STANDINS / LEFT_OUT.
 */

/** A Compose document as `docker stack config` prints it (JSON-compatible). */
export type Doc = Record<string, unknown> & { services: Record<string, Svc> };
export type Svc = Record<string, unknown> & {
  image?: string;
  ports?: Port[];
  deploy?: Record<string, unknown> & {
    mode?: string;
    replicas?: number;
    endpoint_mode?: string;
    placement?: Record<string, unknown>;
    resources?: { limits?: { cpus?: string; memory?: string }; reservations?: unknown };
  };
};
export interface Port {
  target: number;
  published?: number;
  protocol?: string;
  mode?: string;
}

/** What the local profile deploys instead of a production service, and what it leaves out. */
export interface Replacement {
  /** The stand-in's service definition (merged over nothing: it replaces the service). */
  service: Svc;
  /** Configs the stand-in needs (name → file), added to the stack. */
  configs?: Record<string, { name: string; file: string }>;
  /** What the stand-in does not cover, printed by `npm run swarm -- up`. */
  gaps: string;
}

export interface OneNodePlan {
  /** Official image (as in the stacks) → local image. */
  images: Readonly<Record<string, string>>;
  /** `<stack>/<service>/<target port>` → host port on 127.0.0.1 (host mode). */
  ports: Readonly<Record<string, number>>;
  /** The machine's cores: CPU limits above it are capped. */
  cpus: number;
  /** Replicas above this are capped. */
  maxReplicas: number;
  /** Health checks run at most this often and time out no sooner (Go duration, e.g. `10s`). */
  healthFloor: string;
  /** `<stack>/<service>` → its stand-in. */
  standins: Readonly<Record<string, Replacement>>;
  /** `<stack>/<service>` → why it is not deployed here. */
  leftOut: Readonly<Record<string, string>>;
  /** Extra services of a stack (local-only helpers such as the webhook receiver). */
  extra?: Readonly<Record<string, Record<string, Svc>>>;
  /** Configs the extra services need, per stack (name → file). */
  configs?: Readonly<Record<string, Record<string, { name: string; file: string }>>>;
  /** `<stack>/<service>` → environment entries set on top (a stand-in's address, say). */
  environment?: Readonly<Record<string, Record<string, string>>>;
}

const clone = <T>(v: T): T => structuredClone(v);

/** The image a service runs here: local base for an official image, unchanged otherwise. */
export function localImage(image: string, images: OneNodePlan['images']): string {
  return images[image] ?? image;
}

/** Applies the one-node rules to one rendered stack. */
export function toOneNode(stack: string, input: Doc, plan: OneNodePlan): Doc {
  const doc = clone(input);
  // Compose extension fields (x-*) are anchors' leftovers in the rendered output, not deployable.
  for (const key of Object.keys(doc)) if (key.startsWith('x-')) delete doc[key];
  const services: Record<string, Svc> = {};
  for (const [name, original] of Object.entries(doc.services)) {
    const id = `${stack}/${name}`;
    if (plan.leftOut[id] !== undefined) continue;
    const standin = plan.standins[id];
    const svc = standin ? clone(standin.service) : original;
    if (standin?.configs)
      doc.configs = { ...(doc.configs as Record<string, unknown> | undefined), ...clone(standin.configs) };
    const local = standin ? `${name}-standin` : name;
    services[local] = adapt(stack, local, svc, plan);
  }
  for (const [name, svc] of Object.entries(plan.extra?.[stack] ?? {}))
    services[name] = adapt(stack, name, clone(svc), plan);
  if (plan.configs?.[stack])
    doc.configs = { ...(doc.configs as Record<string, unknown> | undefined), ...clone(plan.configs[stack]) };
  for (const [id, env] of Object.entries(plan.environment ?? {})) {
    const [s, n] = id.split('/');
    const svc = s === stack ? services[n!] : undefined;
    if (svc) svc.environment = { ...(svc.environment as Record<string, string> | undefined), ...env };
  }
  doc.services = services;
  const volumes = doc.volumes as Record<string, { driver_opts?: { type?: string } } | null> | undefined;
  for (const [name, vol] of Object.entries(volumes ?? {}))
    if (vol?.driver_opts?.type === 'nfs') volumes![name] = { driver: 'local' } as never;
  pruneUnused(doc);
  return doc;
}

/** Drops top-level secrets, configs and volumes no remaining service uses (left-out services'). */
function pruneUnused(doc: Doc): void {
  const used = { secrets: new Set<string>(), configs: new Set<string>(), volumes: new Set<string>() };
  for (const svc of Object.values(doc.services)) {
    for (const kind of ['secrets', 'configs'] as const)
      for (const ref of (svc[kind] as { source: string }[] | undefined) ?? []) used[kind].add(ref.source);
    for (const v of (svc.volumes as { type?: string; source?: string }[] | undefined) ?? [])
      if (v.type === 'volume' && v.source) used.volumes.add(v.source);
  }
  for (const kind of ['secrets', 'configs', 'volumes'] as const) {
    const top = doc[kind] as Record<string, unknown> | undefined;
    if (!top) continue;
    for (const name of Object.keys(top)) if (!used[kind].has(name)) delete top[name];
    if (Object.keys(top).length === 0) delete doc[kind];
  }
}

/** Seconds of a Go duration as Compose prints it (`1m30s`, `10s`, `500ms`). */
function seconds(d: string): number {
  let s = 0;
  for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g))
    s += Number(n) * ({ ms: 0.001, s: 1, m: 60, h: 3600 } as Record<string, number>)[unit!]!;
  return s;
}

function adapt(stack: string, name: string, svc: Svc, plan: OneNodePlan): Svc {
  if (svc.image) svc.image = localImage(svc.image, plan.images);
  svc.deploy ??= {};
  const deploy = svc.deploy;
  deploy.endpoint_mode = 'dnsrr';
  if (deploy.placement) {
    delete deploy.placement.constraints;
    delete deploy.placement.preferences;
    delete deploy.placement.max_replicas_per_node;
    if (Object.keys(deploy.placement).length === 0) delete deploy.placement;
  }
  if (typeof deploy.replicas === 'number' && deploy.replicas > plan.maxReplicas)
    deploy.replicas = plan.maxReplicas;
  const hc = svc.healthcheck as { interval?: string; timeout?: string; disable?: boolean } | undefined;
  if (hc && !hc.disable) {
    const floor = seconds(plan.healthFloor);
    if (seconds(hc.interval ?? '30s') < floor) hc.interval = plan.healthFloor;
    if (seconds(hc.timeout ?? '30s') < floor) hc.timeout = plan.healthFloor;
  }
  const res = deploy.resources;
  if (res) {
    delete res.reservations;
    const cpus = Number(res.limits?.cpus);
    if (res.limits && cpus > plan.cpus) res.limits.cpus = plan.cpus.toFixed(1);
  }
  const ports: Port[] = [];
  for (const p of svc.ports ?? []) {
    const published = plan.ports[`${stack}/${name}/${p.target}`];
    if (published !== undefined) ports.push({ ...p, published, mode: 'host' });
  }
  for (const [key, published] of Object.entries(plan.ports)) {
    const [s, n, target] = key.split('/');
    if (s === stack && n === name && !ports.some((p) => p.target === Number(target)))
      ports.push({ target: Number(target), published, protocol: 'tcp', mode: 'host' });
  }
  if (ports.length) svc.ports = ports;
  else delete svc.ports;
  return svc;
}
