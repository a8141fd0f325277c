#!/usr/bin/env bash
# Installs the Debian packages the tests and the local farm need. Idempotent: silent when all
# are present; a clear message (and exit 1) when some are missing and we are not root.
set -euo pipefail
PACKAGES=(
  varnish varnish-modules          # cache tier (xkey vmod)
  redis-server                     # purge queue
  mariadb-server galera-4 mariadb-backup socat  # Galera cluster for proxysql-health
  nginx-light haproxy wrk          # baselines and demo origins in benchmarks
  prometheus prometheus-alertmanager  # promtool / amtool for infra checks
  php-cli php-curl                 # the WordPress mu-plugin's tests
  wordpress wordpress-theme-twentytwentyone php-fpm php-mysql php-xml php-gd php-mbstring php-zip php-intl  # real WordPress (classic theme: menus, widgets) in the local farm and its e2e tests
  procps iproute2 ca-certificates openssl  # openssl: test certificates (router TLS upstreams)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing Debian packages: ${missing[*]}" >&2
  echo "       run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "› installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# policy-rc.d keeps the packages' own services from starting: the farm and tests start their own.
POLICY=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$POLICY" ]; then printf '#!/bin/sh\nexit 101\n' > "$POLICY"; chmod +x "$POLICY"; created_policy=1; fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
[ "$created_policy" -eq 1 ] && rm -f "$POLICY"
# Stop anything a package started anyway so our loopback ports stay free.
for svc in varnish varnishncsa redis-server mariadb nginx haproxy prometheus prometheus-alertmanager php8.2-fpm; do
  service "$svc" stop >/dev/null 2>&1 || true
done
echo "› Debian packages ready" >&2
