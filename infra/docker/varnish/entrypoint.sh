#!/bin/sh
# The cache tier's Varnish entrypoint (installed as /usr/local/bin/farm-varnish-entrypoint).
#
# In Swarm the backend is a service name, and a name is not what VCL wants:
# - a backend's `.host` must resolve to exactly one address, and `tasks.<service>` (or any dnsrr
#   name) resolves to one address per task;
# - the services stack is deployed after the cache stack, so the name may not resolve yet when
#   varnishd compiles its VCL, and a `.host` that does not resolve fails the compilation;
# - every update gives the tasks new addresses.
# So, with VARNISH_BACKEND=<name>:<port>, this script resolves the name and renders backends.vcl
# (default.vcl includes it): one backend per address, each probed on the back router's GET /ping
# (which answers 503 from SIGTERM until its listener closes, DRAIN_DELAY_MS later), behind a
# round-robin director; while nothing resolves, a `none` backend, so every fetch answers 503.
# Then it runs varnishd (exec'd, so PID 1 and Swarm's SIGTERM are its own, unless a drain is set:
# below). A background watcher re-resolves every VARNISH_BACKEND_INTERVAL seconds; when the
# address set changes it renders backends.vcl again, compiles the main VCL anew (`vcl.load`
# re-reads the include), switches to it once one of its probes found a healthy backend (at most
# ~5 s: its backends start sick, like Varnish's default), and discards every VCL of its own no
# longer active (retrying each round until they are gone).
# It touches watcher.alive on every round; the health check fails when that stops.
#
# varnishd has no drain of its own: SIGTERM stops it at once, cutting the responses it is
# streaming (the Swarm rolling-update test saw a page aborted mid-body while varnish-2 rolled).
# With VARNISH_DRAIN_SECONDS > 0 this shell stays PID 1 instead of exec'ing: on SIGTERM it creates
# the drain file, whose presence makes default.vcl answer the front routers' probe URL
# (/.varnish-health) with 503 (the file's path reaches the VCL as FARM_DRAIN_FILE); the routers
# take the node out after two failed probes while it still serves what they send; after the
# drain it sends SIGTERM to varnishd and exits with varnishd's status.
#
# Environment:
#   VARNISH_BACKEND           name:port to resolve; unset: plain `exec "$@"` (static backends.vcl)
#   VARNISH_BACKEND_INTERVAL  seconds between resolutions (default 5)
#   VARNISH_BACKENDS_DIR      where backends.vcl is rendered; must be the first folder of the
#                             command's `-p vcl_path=` (default /var/lib/varnish/farm/vcl)
#   VARNISH_RESOLVE           resolver command, run with the name as its last argument, printing
#                             addresses first on each line (default `getent ahostsv4`; tests
#                             inject their own)
#   VARNISH_DRAIN_SECONDS     seconds between SIGTERM and stopping varnishd (default 0: exec)
#   VARNISH_DRAIN_FILE        the drain file (default /var/lib/varnish/farm/draining)
# The command must be varnishd with `-n <workdir>` and `-f <main VCL>`: the watcher's varnishadm
# and vcl.load use both.
set -eu

if [ "$#" -eq 0 ]; then
  echo 'usage: farm-varnish-entrypoint varnishd -F -n <workdir> -f <main VCL> ... (the cache stack passes the command)' >&2
  exit 2
fi

log() { printf '%s farm-varnish-backends: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
die() { log "$*"; exit 2; }

drain=${VARNISH_DRAIN_SECONDS:-0}
case $drain in '' | *[!0-9]*) die "VARNISH_DRAIN_SECONDS must be a whole number of seconds (got \"$drain\")" ;; esac
drain_file=${VARNISH_DRAIN_FILE:-/var/lib/varnish/farm/draining}

# Runs the command: exec'd without a drain; with one, as this shell's child until SIGTERM drains it.
run() {
  if [ "$drain" -eq 0 ]; then exec "$@"; fi
  mkdir -p "$(dirname "$drain_file")"
  rm -f "$drain_file"
  export FARM_DRAIN_FILE="$drain_file"
  "$@" &
  child=$!
  trap 'log "SIGTERM: /.varnish-health answers 503 for ${drain} s, then varnishd stops"; : >"$drain_file"; sleep "$drain"; kill -TERM "$child" 2>/dev/null || true' TERM INT
  status=0
  # `wait` returns early (status > 128) when the trap runs; wait again until varnishd has exited.
  while kill -0 "$child" 2>/dev/null; do
    wait "$child" && status=0 || status=$?
  done
  exit "$status"
}

if [ -z "${VARNISH_BACKEND:-}" ] || [ "${1:-}" != varnishd ]; then
  run "$@"
fi

case $VARNISH_BACKEND in
  *[!A-Za-z0-9._:-]* | :* | *: | *:*:*) die "VARNISH_BACKEND must be name:port (got \"$VARNISH_BACKEND\")" ;;
  *:*) ;;
  *) die "VARNISH_BACKEND must be name:port (got \"$VARNISH_BACKEND\")" ;;
esac
name=${VARNISH_BACKEND%:*}
port=${VARNISH_BACKEND##*:}
case $port in *[!0-9]*) die "VARNISH_BACKEND port must be a number (got \"$port\")" ;; esac
interval=${VARNISH_BACKEND_INTERVAL:-5}
case $interval in '' | *[!0-9]* | 0) die "VARNISH_BACKEND_INTERVAL must be a positive number of seconds" ;; esac
dir=${VARNISH_BACKENDS_DIR:-/var/lib/varnish/farm/vcl}
resolve=${VARNISH_RESOLVE:-getent ahostsv4}

workdir='' vcl='' vcl_path='' prev=''
for arg in "$@"; do
  case $prev in
    -n) workdir=$arg ;;
    -f) vcl=$arg ;;
    -p) case $arg in vcl_path=*) vcl_path=${arg#vcl_path=} ;; esac ;;
  esac
  prev=$arg
done
[ -n "$workdir" ] || die "the varnishd command needs -n <workdir> (the watcher's varnishadm uses it)"
[ -n "$vcl" ] || die "the varnishd command needs -f <main VCL> (the watcher reloads it)"
case $vcl_path in
  "$dir" | "$dir":*) ;;
  *) die "-p vcl_path=... must start with $dir (VARNISH_BACKENDS_DIR): the rendered backends.vcl must be the one default.vcl includes" ;;
esac

# The name's IPv4 addresses, sorted and unique (a stable order: only a real change reloads).
addresses() {
  # shellcheck disable=SC2086 # the resolver is a command with arguments
  $resolve "$name" 2>/dev/null | awk '$1 ~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/ { print $1 }' | sort -u
}

# backends.vcl for the addresses in $1 (newline-separated).
render() {
  if [ -z "$1" ]; then
    printf '%s\n' \
      "# Rendered by farm-varnish-entrypoint: $name resolves to nothing (yet): every fetch answers 503." \
      'backend default none;'
    return
  fi
  cat <<VCL
# Rendered by farm-varnish-entrypoint from $name:$port; re-rendered when its addresses change.
import directors;

# GET /ping (answered by the router itself for a Host that is no site) turns 503 when the router
# starts draining: two failures in a row (<= 4 s) take it out, well within its drain delay.
probe farm_ping {
  .request = "GET /ping HTTP/1.1" "Host: varnish-probe.invalid" "User-Agent: varnish-probe" "Connection: close";
  .interval = 2s;
  .timeout = 1s;
  .window = 3;
  .threshold = 2;
}
VCL
  for a in $1; do
    printf 'backend farm_%s {\n  .host = "%s";\n  .port = "%s";\n  .probe = farm_ping;\n  .connect_timeout = 2s;\n  .first_byte_timeout = 30s;\n  .between_bytes_timeout = 10s;\n}\n' \
      "$(printf %s "$a" | tr . _)" "$a" "$port"
  done
  printf 'sub vcl_init {\n  new farm_backends = directors.round_robin();\n'
  for a in $1; do printf '  farm_backends.add_backend(farm_%s);\n' "$(printf %s "$a" | tr . _)"; done
  printf '}\n\n# Concatenated before default.vcl'"'"'s own vcl_recv (VCL joins subroutines of one name in order).\n'
  printf 'sub vcl_recv {\n  set req.backend_hint = farm_backends.backend();\n}\n'
}

write() { render "$1" >"$dir/backends.vcl.new" && mv -f "$dir/backends.vcl.new" "$dir/backends.vcl"; }
oneline() { printf '%s' "$1" | tr '\n' ' '; }
adm() { varnishadm -t 10 -n "$workdir" "$@"; }

# Waits (<= ~5 s) until a backend of VCL $1 is healthy; true at once for the 503 placeholder.
healthy_soon() {
  [ -n "$2" ] || return 0
  i=0
  while [ "$i" -lt 10 ]; do
    adm backend.list "$1.*" 2>/dev/null | awk '$4 == "healthy" { ok = 1 } END { exit !ok }' && return 0
    sleep 0.5
    i=$((i + 1))
  done
  return 1
}

watch() {
  set +e # a failed round is logged and retried; the watcher itself must not die of it
  current=$1 n=0 leftover=0
  while kill -0 "$$" 2>/dev/null; do # $$: varnishd once exec'd, else the shell that outlives it
    touch "$dir/watcher.alive"
    next=$(addresses)
    if [ "$next" != "$current" ]; then
      n=$((n + 1))
      vname="backends_$(date +%s)_$n"
      write "$next"
      if ! out=$(adm vcl.load "$vname" "$vcl" 2>&1); then
        log "vcl.load $vname failed, keeping the active VCL; retrying next round: $(oneline "$out")"
      else
        healthy_soon "$vname" "$next" || log "$vname: no backend healthy yet; switching anyway (its addresses are the current ones)"
        if out=$(adm vcl.use "$vname" 2>&1); then
          log "now using $vname: $name -> $(oneline "${next:-nothing (503)}")"
          current=$next
          leftover=1
        else
          log "vcl.use $vname failed: $(oneline "$out")"
          adm vcl.discard "$vname" >/dev/null 2>&1 || true
        fi
      fi
    fi
    # Every VCL of ours that is not the active one (the boot VCL, the previous one, any left by a
    # failed round), until none is left: a discard that fails (a slow or busy manager) is retried
    # next round, not at the next change of address. VCLs an operator loaded by hand are left alone.
    if [ "$leftover" = 1 ]; then
      leftover=0
      for old in $(adm vcl.list 2>/dev/null | awk '$1 == "available" && ($5 == "boot" || $5 ~ /^backends_/) { print $5 }'); do
        adm vcl.discard "$old" >/dev/null 2>&1 || { leftover=1; log "vcl.discard $old failed (retried next round)"; }
      done
    fi
    sleep "$interval"
  done
}

mkdir -p "$dir"
first=$(addresses)
write "$first"
touch "$dir/watcher.alive"
log "starting with $name -> $(oneline "${first:-nothing (503 until it resolves)}")"
watch "$first" &
run "$@"
