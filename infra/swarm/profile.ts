/**
 * The local Swarm profile's facts: its deploy-time variables over farm.env, the host ports the
 * tests use, the stand-ins for what cannot be installed here, and the secrets it generates. The
 * rules that use them are in one-node.ts; the commands in cli.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { OneNodePlan, Replacement, Svc } from './one-node.ts';

export const SWARM_DIR = resolve(import.meta.dirname);
const STANDINS = join(SWARM_DIR, 'standins');

/** A stand-in's config, named by its content: Swarm cannot update a config in place. */
const standinConfig = (name: string, file: string) => ({
  name: `${name}_${createHash('sha256')
    .update(readFileSync(join(STANDINS, file)))
    .digest('hex')
    .slice(0, 12)}`,
  file: join(STANDINS, file),
});

/** Farm images are built and tagged locally as `wpfarm/<name>:local`. */
export const LOCAL_REGISTRY = 'wpfarm';
export const LOCAL_VERSION = 'local';

/**
 * Stand-ins built from this repository for what cannot be installed here: official image (as the
 * stacks name it) → the local image and its Dockerfile (context: the repository root).
 */
export const STANDIN_IMAGES: Readonly<Record<string, { tag: string; dockerfile: string }>> = {
  'proxysql/proxysql:2.7.1': {
    tag: `${LOCAL_REGISTRY}/proxysql-standin:${LOCAL_VERSION}`,
    dockerfile: 'infra/swarm/standins/proxysql/Dockerfile',
  },
};

/** The host port of each service the tests reach (host mode on this one node, 127.0.0.1). */
export function localPorts(base: number): Record<string, number> {
  return {
    'ingress/traefik-standin/80': base + 80,
    'cache/varnish-1/6081': base + 101,
    'cache/varnish-2/6081': base + 102,
    'cache/varnish-3/6081': base + 103,
    'db/proxysql-health-1/9200': base + 201,
    'db/proxysql-health-2/9200': base + 202,
    'db/proxysql-health-3/9200': base + 203,
    'monitoring/prometheus/9090': base + 90,
    'monitoring/alertmanager/9093': base + 93,
    'monitoring/webhook-standin/9094': base + 94,
  };
}

/** Deploy-time variables of the local profile, over infra/stacks/farm.env. */
export function localEnv(farm: Record<string, string>, gwbridgeSubnet: string): Record<string, string> {
  return {
    ...farm,
    IMAGE_REGISTRY: LOCAL_REGISTRY,
    FARM_VERSION: LOCAL_VERSION,
    // Test traffic enters through a host-mode port: the routers see Docker's gateway bridge as
    // the client, where production sees Cloudflare.
    CLOUDFLARE_IPS: `${farm.CLOUDFLARE_IPS},${gwbridgeSubnet}`,
    // Three caches on one 24 GB machine beside everything else.
    VARNISH_MEMORY: '256M',
    VARNISH_TRANSIENT: '64M',
    VARNISH_MEMORY_LIMIT: '512M',
    // The edge worker's purge API is Cloudflare's: the local webhook stand-in answers for it.
    EDGE_URL: 'http://monitoring_webhook-standin:9094',
  };
}

const webhookStandin: Svc = {
  image: 'node:24-bookworm-slim',
  command: ['node', '/standin/webhook-standin.cjs'],
  networks: { farm_mon: null },
  configs: [{ source: 'webhook_standin', target: '/standin/webhook-standin.cjs', mode: 0o444 }],
  healthcheck: {
    test: [
      'CMD',
      'node',
      '-e',
      "require('http').get('http://127.0.0.1:9094/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))",
    ],
    interval: '10s',
    timeout: '3s',
    retries: 3,
  },
  deploy: {
    replicas: 1,
    update_config: { order: 'stop-first' },
    resources: { limits: { cpus: '0.25', memory: '64M' } },
  },
};

const traefikStandin: Replacement = {
  service: {
    image: 'haproxy:2.9',
    networks: { farm_edge: null, farm_mon: null },
    configs: [{ source: 'traefik_standin', target: '/usr/local/etc/haproxy/haproxy.cfg', mode: 0o444 }],
    healthcheck: {
      test: [
        'CMD',
        'bash',
        '-c',
        'exec 3<>/dev/tcp/127.0.0.1/80 && printf "GET /__standin/health HTTP/1.0\\r\\n\\r\\n" >&3 && grep -q " 200 " <&3',
      ],
      interval: '5s',
      timeout: '2s',
      retries: 3,
    },
    stop_grace_period: '10s',
    deploy: {
      replicas: 1,
      update_config: { parallelism: 1, order: 'stop-first', failure_action: 'rollback' },
      resources: { limits: { cpus: '1.0', memory: '128M' } },
    },
  },
  configs: { traefik_standin: standinConfig('traefik_standin', 'traefik-standin.cfg') },
  gaps: 'TLS with the origin certificate, PROXY protocol from the DO LB, HTTP/2, the CrowdSec bouncer',
};

/** The one-node plan for this machine. */
export function onePlan(opts: { images: Record<string, string>; base: number; cpus: number }): OneNodePlan {
  return {
    images: opts.images,
    ports: localPorts(opts.base),
    cpus: opts.cpus,
    maxReplicas: 2,
    healthFloor: '30s',
    standins: { 'ingress/traefik': traefikStandin },
    leftOut: {
      'ingress/crowdsec': 'CrowdSec does not install here (no image, no Debian package)',
      'monitoring/loki': 'Loki does not install here: logs stay in `docker service logs`',
      'monitoring/tempo': 'Tempo does not install here: spans are exported to nowhere (the SDK drops them)',
      'monitoring/grafana': 'Grafana does not install here: dashboards are checked offline (infra/test)',
      'monitoring/alloy': 'Alloy does not install here: no OTLP receiver, no log shipping',
    },
    extra: {
      monitoring: { 'webhook-standin': webhookStandin },
    },
    configs: {
      monitoring: {
        webhook_standin: standinConfig('webhook_standin', 'webhook-standin.cjs'),
      },
    },
    environment: {
      // Cloudflare's API cannot be reached: the webhook stand-in answers as it does on success.
      'cache/cache-purger': { CLOUDFLARE_API_URL: 'http://monitoring_webhook-standin:9094/client/v4' },
    },
  };
}

/** A value for a generated secret, by its base name (`wp_salts_alpha_v1` → `wp_salts_alpha`). */
export function secretValue(name: string): string {
  const base = name.replace(/_v\d+$/, '');
  if (base.startsWith('wp_salts_'))
    return `<?php\n${[
      'AUTH_KEY',
      'SECURE_AUTH_KEY',
      'LOGGED_IN_KEY',
      'NONCE_KEY',
      'AUTH_SALT',
      'SECURE_AUTH_SALT',
      'LOGGED_IN_SALT',
      'NONCE_SALT',
    ]
      .map((k) => `define('${k}', '${randomBytes(32).toString('hex')}');`)
      .join('\n')}\n`;
  // Alertmanager's Slack receiver posts here (the URL is the secret in production).
  if (base === 'alert_slack') return 'http://webhook-standin:9094/slack';
  return randomBytes(32).toString('hex');
}
