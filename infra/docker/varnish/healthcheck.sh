#!/bin/sh
# The cache tier's Varnish health check (installed as /usr/local/bin/farm-varnish-healthcheck):
# cheap on purpose, every 10 s on a busy cache: one varnishadm ping (the manager and the child
# answer) and, with the backend watcher of farm-varnish-entrypoint, one stat of its heartbeat.
# A stalled watcher would leave Varnish on addresses that no longer exist: unhealthy, so Swarm
# replaces the task. Usage: farm-varnish-healthcheck <varnishd -n workdir>
set -eu
varnishadm -t 2 -n "${1:?usage: farm-varnish-healthcheck <workdir>}" ping >/dev/null
[ -n "${VARNISH_BACKEND:-}" ] || exit 0
stamp=${VARNISH_BACKENDS_DIR:-/var/lib/varnish/farm/vcl}/watcher.alive
# A round takes one interval, plus a VCL compile and up to ~5 s waiting for a probe when it reloads.
limit=$((6 * ${VARNISH_BACKEND_INTERVAL:-5}))
[ "$limit" -ge 30 ] || limit=30
age=$(($(date +%s) - $(stat -c %Y "$stamp")))
if [ "$age" -gt "$limit" ]; then
  echo "backend watcher silent for ${age}s (limit ${limit}s)" >&2
  exit 1
fi
