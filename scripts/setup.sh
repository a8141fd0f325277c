#!/usr/bin/env bash
# Everything a fresh Debian machine needs before the farm or the tests: Debian packages,
# Node >= 22, and the npm workspaces. Idempotent and quiet when nothing is to do.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-env.sh"
cd "$ROOT"
bash scripts/system-packages.sh
stamp="node_modules/.setup-stamp"
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "› installing npm workspaces (node $(node --version)) ..." >&2
  npm install --no-audit --no-fund --loglevel=error >&2  # not `npm ci`: npm 11 drops other platforms' optional deps from this lock and then refuses it
  touch "$stamp"
fi
