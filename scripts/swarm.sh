#!/usr/bin/env bash
# npm run swarm -- up|test|down|status|render: the farm on a local one-node Docker Swarm from the
# repository's own images and stacks (infra/swarm/README.md). Installs Debian's docker.io and
# mmdebstrap when missing (as root), then hands over to infra/swarm/cli.ts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-env.sh"
cd "$ROOT"
cmd="${1:-}"
if [ "$cmd" = up ] || [ "$cmd" = test ]; then
  bash scripts/setup.sh
  missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "error: missing Debian packages: ${missing[*]} (run as root: apt-get install -y ${missing[*]})" >&2
      exit 1
    fi
    echo "› installing Debian packages: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    # policy-rc.d keeps the package from starting dockerd itself: the swarm CLI starts (and, in
    # `down`, stops) the engine it needs, so CI leaves nothing running.
    policy=/usr/sbin/policy-rc.d; created=0
    if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    [ "$created" -eq 1 ] && rm -f "$policy"
  fi
fi
exec node infra/swarm/cli.ts "$@"
