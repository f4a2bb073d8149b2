#!/usr/bin/env bash
# Installs the Debian tools the tests and benchmarks drive: redis-cli (RESP tests) and
# redis-server + redis-benchmark (the CSTORE benchmark's peer).
set -euo pipefail
if command -v redis-cli >/dev/null && command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
  exit 0
fi
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "[setup-tools] installing redis-tools and redis-server from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq redis-tools redis-server >&2
