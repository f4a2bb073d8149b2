#!/usr/bin/env bash
# Installs the Debian tools the tests and benchmarks drive: redis-cli (RESP tests),
# redis-server + redis-benchmark (the CSTORE benchmark's peer), runc (the OCI fallback's
# runtime) and busybox-static (the OCI tests build their image from it).
set -euo pipefail
want=()
command -v redis-cli >/dev/null || want+=(redis-tools)
{ command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; } || want+=(redis-server)
command -v runc >/dev/null || want+=(runc)
dpkg -s busybox-static >/dev/null 2>&1 || want+=(busybox-static)
[ ${#want[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "[setup-tools] installing ${want[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >&2
$sudo apt-get install -y -qq "${want[@]}" >&2
