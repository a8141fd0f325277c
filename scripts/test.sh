#!/usr/bin/env bash
# The test command of the README: set-up, lint, type check, then every workspace's vitest suite.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-env.sh"
cd "$ROOT"
bash scripts/setup.sh
echo "› lint" >&2
biome check .
echo "› typecheck" >&2
npm run --silent typecheck
echo "› tests" >&2
if [ $# -gt 0 ]; then
  npm run --silent test --workspace "$@"
else
  npm run --silent test --workspaces --if-present
fi
