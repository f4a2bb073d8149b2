#!/usr/bin/env bash
# Three local nodes joined into one mesh, each with its API and RESP listener on loopback.
# Data lives under ${R1_CLUSTER_DIR:-target/cluster}/{a,b,c} and survives restarts.
# Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
r1="${1:-${CARGO_TARGET_DIR:-$PWD/target}/debug/r1}"
dir="${R1_CLUSTER_DIR:-$PWD/target/cluster}"
[ -x "$r1" ] || { echo "no r1 binary at $r1 (cargo build -p r1-cli)" >&2; exit 1; }
mkdir -p "$dir"
# The three nodes share one API token file (0600), made once and kept across restarts.
token="$dir/api.token"
[ -f "$token" ] || "$r1" token rotate --token-file "$token" >/dev/null
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT INT TERM

"$r1" node --data-dir "$dir/a" --api 127.0.0.1:7411 --api-token-file "$token" --mesh-listen 127.0.0.1:7400 --resp 127.0.0.1:6380 --http 127.0.0.1:7480 2>"$dir/a.log" &
pids+=($!)
"$r1" node --data-dir "$dir/b" --api 127.0.0.1:7421 --api-token-file "$token" --mesh-listen 127.0.0.1:7401 --resp 127.0.0.1:6381 --http 127.0.0.1:7481 \
  --join 127.0.0.1:7400 2>"$dir/b.log" &
pids+=($!)
"$r1" node --data-dir "$dir/c" --api 127.0.0.1:7431 --api-token-file "$token" --mesh-listen 127.0.0.1:7402 --resp 127.0.0.1:6382 --http 127.0.0.1:7482 \
  --join 127.0.0.1:7400 --join 127.0.0.1:7401 2>"$dir/c.log" &
pids+=($!)

cat <<TXT
three nodes running (logs in $dir/*.log):
  a  API 127.0.0.1:7411  mesh 127.0.0.1:7400  RESP 127.0.0.1:6380  HTTP apps 127.0.0.1:7480
  b  API 127.0.0.1:7421  mesh 127.0.0.1:7401  RESP 127.0.0.1:6381  HTTP apps 127.0.0.1:7481
  c  API 127.0.0.1:7431  mesh 127.0.0.1:7402  RESP 127.0.0.1:6382  HTTP apps 127.0.0.1:7482
the nodes share one API token; in another shell:
  export R1_API_TOKEN_FILE=$token
try:
  r1 cstore set demo greeting hello --api 127.0.0.1:7411
  r1 cstore get demo greeting --api 127.0.0.1:7431
  redis-cli -p 6380 SET k v && redis-cli -p 6382 GET k
  a pipeline with one stage per node: examples/pipeline/README.md ("Across three nodes")
Ctrl-C stops the cluster.
TXT
wait
