#!/usr/bin/env bash
# The Redis clients the RESP tests drive, at the versions users install today: redis-py 8
# (PyPI) in a venv at $R1_CLIENTS_DIR/venv and node-redis 5 (npm `redis`) in
# $R1_CLIENTS_DIR/npm (default ~/.cache/r1/clients). Installs python3-venv and nodejs/npm from
# Debian when missing. Idempotent: prints the directory.
set -euo pipefail
dir="${R1_CLIENTS_DIR:-$HOME/.cache/r1/clients}"
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
apt_install() {
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2 ||
    { $sudo apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2; }
}
mkdir -p "$dir"
if ! "$dir/venv/bin/python" -c 'import redis, sys; sys.exit(not redis.__version__.startswith("8."))' 2>/dev/null; then
  echo "installing redis-py 8 from PyPI into $dir/venv…" >&2
  python3 -m venv "$dir/venv" 2>/dev/null || { apt_install python3-venv; rm -rf "$dir/venv"; python3 -m venv "$dir/venv"; }
  "$dir/venv/bin/pip" install --quiet "redis>=8,<9" >&2
fi
if [ ! -f "$dir/npm/node_modules/redis/package.json" ]; then
  command -v npm >/dev/null || apt_install nodejs npm
  echo "installing node-redis 5 from npm into $dir/npm…" >&2
  mkdir -p "$dir/npm"
  (cd "$dir/npm" && { [ -f package.json ] || npm init -y >/dev/null; } && npm install --silent "redis@5" >&2)
fi
echo "$dir"
