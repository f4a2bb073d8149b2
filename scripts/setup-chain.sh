#!/usr/bin/env bash
# Installs the chain tools from npm, pinned by contracts/package.json, into $R1_CHAIN_TOOLS
# (default ~/.cache/r1/chain-tools, outside the clone): solc-js (compiles offline),
# OpenZeppelin's contracts, and anvil (the binary inside its npm package; install scripts are
# skipped, so nothing is downloaded from elsewhere). Idempotent; prints the anvil path.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="${R1_CHAIN_TOOLS:-$HOME/.cache/r1/chain-tools}"
command -v npm >/dev/null || {
  echo "[setup-chain] installing nodejs and npm (Debian)" >&2
  apt-get install -y -q nodejs npm >/dev/null
}
mkdir -p "$tools"
if ! cmp -s contracts/package.json "$tools/package.json" || [ ! -x "$tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil" ]; then
  cp contracts/package.json "$tools/package.json"
  echo "[setup-chain] npm install into $tools" >&2
  (cd "$tools" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
anvil="$tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
[ -x "$anvil" ] || { echo "[setup-chain] no anvil at $anvil" >&2; exit 1; }
echo "$anvil"
