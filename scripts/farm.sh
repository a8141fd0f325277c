#!/usr/bin/env bash
# npm start / npm stop: the local farm on loopback (see infra/local-farm/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-env.sh"
cd "$ROOT"
cmd="${1:-start}"; shift || true
[ "$cmd" = start ] && bash scripts/setup.sh
exec node infra/local-farm/cli.ts "$cmd" "$@"
