#!/usr/bin/env bash
# npm run bench -- [--quick] [name ...]: autocannon benchmarks, results in bench/results/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/node-env.sh"
cd "$ROOT"
bash scripts/setup.sh
exec node bench/src/cli.ts "$@"
