#!/usr/bin/env bash
# CSTORE vs Redis, in one run: redis-benchmark -t set,get against redis-server and against a
# CSTORE node (RESP listener) that replicates to two peers; then replication latency
# (write on node A, visible on node C) p50/p99 over loopback.
#
# Usage: scripts/bench-cstore.sh [path/to/r1 (release)]   (`make bench-cstore` builds it)
set -euo pipefail
cd "$(dirname "$0")/.."
r1="${1:-${CARGO_TARGET_DIR:-$PWD/target}/release/r1}"
requests="${BENCH_REQUESTS:-100000}"
clients="${BENCH_CLIENTS:-50}"
[ -x "$r1" ] || { echo "no r1 binary at $r1 (cargo build --release -p r1-cli)" >&2; exit 1; }
bash scripts/setup-tools.sh

BENCH_NAME=bench source scripts/bench-lib.sh

redis_port=$(port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --daemonize no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)

# One API token for the three nodes, so the CLI below reaches each with it.
"$r1" token rotate --token-file "$work/api.token" >/dev/null
export R1_API_TOKEN_FILE="$work/api.token"
declare -A api mesh resp
for n in a b c; do api[$n]=$(port); mesh[$n]=$(port); resp[$n]=$(port); done
start_node() {
  local n=$1; shift
  "$r1" node --data-dir "$work/$n" --api "127.0.0.1:${api[$n]}" --api-token-file "$work/api.token" --mesh-listen "127.0.0.1:${mesh[$n]}" --http off \
    --resp "127.0.0.1:${resp[$n]}" "$@" 2>"$work/$n.log" &
  pids+=($!)
}
start_node a
start_node b --join "127.0.0.1:${mesh[a]}"
start_node c --join "127.0.0.1:${mesh[a]}" --join "127.0.0.1:${mesh[b]}"
for n in a b c; do
  for _ in $(seq 1 200); do
    connected=$(R1_API="127.0.0.1:${api[$n]}" "$r1" mesh status 2>/dev/null | grep -c '"12D3' || true)
    [ "$connected" -ge 3 ] && break   # own id + two peers
    sleep 0.05
  done
done
for _ in $(seq 1 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

rate() { # port test -> requests per second
  redis-benchmark -h 127.0.0.1 -p "$1" -t "$2" -n "$requests" -c "$clients" -q 2>/dev/null \
    | tr '\r' '\n' | grep -i "^$2:" | tail -1 | grep -oE '[0-9]+(\.[0-9]+)?' | head -1
}

echo "redis-benchmark -t set,get -n $requests -c $clients (loopback; CSTORE node A replicates to B and C)"
redis_set=$(rate "$redis_port" set);  cstore_set=$(rate "${resp[a]}" set)
redis_get=$(rate "$redis_port" get);  cstore_get=$(rate "${resp[a]}" get)
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
printf '%-28s %14s %14s %8s\n' metric cstore redis ratio
printf '%-28s %14s %14s %8s\n' cstore_resp_set_vs_redis "$cstore_set" "$redis_set" "$(ratio "$cstore_set" "$redis_set")"
printf '%-28s %14s %14s %8s\n' cstore_resp_get_vs_redis "$cstore_get" "$redis_get" "$(ratio "$cstore_get" "$redis_get")"

# Replication reached C for the benchmark's keys too? (sanity, not timing)
b_has=$(redis-cli -p "${resp[c]}" exists key:__rand_int__ || true)
echo "node C holds the benchmark key: $b_has"

python3 scripts/replication_latency.py "${resp[a]}" "${resp[c]}" "${LATENCY_SAMPLES:-300}"
