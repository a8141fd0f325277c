#!/usr/bin/env bash
# Creates the farm's shared overlay networks once per Swarm (idempotent). Stacks declare them
# `external: true`, so no stack owns them and `docker stack rm` of one tier cannot cut another.
# All encrypted (IPsec between nodes): each carries requests, purges, queries, or traces and logs
# holding URLs and client addresses. Subnets are fixed because services trust them by range
# (router TRUSTED_HOPS, CLIENT_ALLOWLIST), and sized for 500+ sites: the default /24 runs out of
# addresses at about 60 sites on farm_app (each site: 2 nginx + 2 php tasks + VIPs).
set -euo pipefail
create() {
  local name=$1 subnet=$2; shift 2
  if docker network inspect "$name" >/dev/null 2>&1; then echo "network $name exists"; return; fi
  docker network create --driver overlay --opt encrypted --subnet "$subnet" "$@" "$name" >/dev/null
  echo "network $name created ($subnet)"
}
create farm_edge 10.210.0.0/24                # Traefik -> origin-router front
create farm_cache 10.210.1.0/24               # router front -> Varnish -> router back
create farm_purge 10.210.2.0/24               # purger -> Varnish only (BAN/PURGE, admin): Varnish's acl purgers
create farm_app 10.211.0.0/20                 # router back -> WordPress nginx; mu-plugin -> purger
create farm_db 10.212.0.0/20 --attachable     # php-fpm -> ProxySQL -> Galera (attachable: one-off DB tasks)
create farm_mon 10.213.0.0/22                 # scrapes, logs, traces -> monitoring tier
