#!/usr/bin/env bash
# HTTP components vs `wasmtime serve`, in one run on one loopback: the same hello-world
# wasi:http component (examples/http-hello) served by an R1 node on its route and by
# `wasmtime serve` (wasmtime-cli 48 from crates.io, bench/wasmtime-serve), each loaded by
# wrk (Debian) with the same threads, connections and duration; requests/s and p99.
#
# Usage: scripts/bench-http.sh [r1 (release)] [wasmtime-serve-bench (release)]  (`make bench-http`)
set -euo pipefail
cd "$(dirname "$0")/.."
r1="${1:-${CARGO_TARGET_DIR:-$PWD/target}/release/r1}"
serve="${2:-${CARGO_TARGET_DIR:-$PWD/target}/wasmtime-serve/release/wasmtime-serve-bench}"
component="${R1_GUEST_WASM_DIR:-$PWD/target/wasm}/http_hello.wasm"
duration="${BENCH_SECONDS:-10}"
connections="${BENCH_CONNECTIONS:-50}"
threads="${BENCH_THREADS:-2}"
[ -x "$r1" ] || { echo "no r1 binary at $r1 (cargo build --release -p r1-cli)" >&2; exit 1; }
[ -x "$serve" ] || { echo "no wasmtime-serve-bench at $serve (see make bench-http)" >&2; exit 1; }
[ -f "$component" ] || { echo "no $component (make guests)" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "[bench-http] installing wrk from Debian" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2 ||
    { $sudo apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2; }
fi
BENCH_NAME=bench-http source scripts/bench-lib.sh

wait_http() {
  for _ in $(seq 1 400); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "nothing answers at $1" >&2; exit 1
}
load() {
  # wrk's own summary: Requests/sec and the 99% latency (normalised to microseconds).
  wrk -t"$threads" -c"$connections" -d"${duration}s" --latency "$1" | python3 -c '
import re, sys
out = sys.stdin.read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
m = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out)
p99 = float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print(rps, p99, int(errors.group(1)) if errors else 0)'
}

# --- wasmtime serve ------------------------------------------------------------------------
w_port=$(port)
"$serve" --addr "127.0.0.1:$w_port" -S cli "$component" >"$work/wasmtime.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$w_port/hello"
echo "wasmtime serve (wasmtime-cli 48.0.8)..." >&2
read -r w_rps w_p99 w_err < <(load "http://127.0.0.1:$w_port/hello")
kill "${pids[-1]}" 2>/dev/null || true

# --- R1 ------------------------------------------------------------------------------------
"$r1" token rotate --token-file "$work/api.token" >/dev/null
export R1_API_TOKEN_FILE="$work/api.token"
api=$(port); mesh=$(port); http=$(port)
R1_LOG=warn "$r1" node --data-dir "$work/node" --api "127.0.0.1:$api" --api-token-file "$work/api.token" \
  --mesh-listen "127.0.0.1:$mesh" --resp off --http "127.0.0.1:$http" 2>"$work/node.log" &
pids+=($!)
for _ in $(seq 1 400); do R1_API="127.0.0.1:$api" "$r1" actor list >/dev/null 2>&1 && break; sleep 0.05; done
R1_API="127.0.0.1:$api" "$r1" actor start "$component" --name hello --route /hello >/dev/null
wait_http "http://127.0.0.1:$http/hello"
echo "R1 node (release)..." >&2
read -r r_rps r_p99 r_err < <(load "http://127.0.0.1:$http/hello")

python3 - "$r_rps" "$r_p99" "$r_err" "$w_rps" "$w_p99" "$w_err" "$threads" "$connections" "$duration" <<'PY'
import sys
r_rps, r_p99, r_err, w_rps, w_p99, w_err = map(float, sys.argv[1:7])
t, c, d = sys.argv[7:10]
print(f"hello-world wasi:http component, wrk -t{t} -c{c} -d{d}s")
print(f"{'':24}{'R1':>14}{'wasmtime serve':>16}{'R1/wasmtime':>13}")
print(f"{'requests/s':24}{r_rps:>14,.0f}{w_rps:>16,.0f}{r_rps/w_rps:>13.2f}")
print(f"{'p99 latency, us':24}{r_p99:>14,.0f}{w_p99:>16,.0f}")
print(f"{'non-2xx responses':24}{r_err:>14,.0f}{w_err:>16,.0f}")
print()
print(f"http_hello_vs_wasmtime_serve = {r_rps/w_rps:.2f}")
PY
