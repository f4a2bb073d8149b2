#!/usr/bin/env bash
# CSTORE vs Redis like for like, in one run on one loopback. Each side is a primary with two
# replicas: redis-server with two `replicaof` replicas, in three configurations (default;
# appendonly + appendfsync everysec; appendonly + appendfsync always), and a three-node CSTORE
# mesh (node A's RESP listener; A replicates to B and C) in the matching modes (`relaxed`
# for everysec, `sync` for always). redis-benchmark -t set,get (-c 50) and SET pipelined
# (-P 16) against each. Then replication latency (a write on A, seen on C) p50/p99, and the
# scale table (scripts/bench_cstore_scale.py, redis-py from `make clients`): 10,000 writes
# converging on 3, 10 and 30 nodes, and a late joiner catching up on 1 M keys.
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

rate() { # port test [extra redis-benchmark args] -> requests per second
  local p=$1 t=$2; shift 2
  redis-benchmark -h 127.0.0.1 -p "$p" -t "$t" -n "$requests" -c "$clients" -q "$@" 2>/dev/null \
    | tr '\r' '\n' | grep -i "^$t:" | tail -1 | grep -oE '[0-9]+(\.[0-9]+)?' | head -1
}
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
declare -A result

# --- Redis: a primary and two replicas per configuration --------------------------------
redis_run() { # name, then redis-server options for all three
  local name=$1; shift
  local dir="$work/redis-$name" primary; primary=$(port)
  local rpids=()
  mkdir -p "$dir/p" "$dir/r1" "$dir/r2"
  redis-server --port "$primary" --bind 127.0.0.1 --dir "$dir/p" --daemonize no "$@" >"$dir/p.log" 2>&1 &
  rpids+=($!)
  for r in r1 r2; do
    redis-server --port "$(port)" --bind 127.0.0.1 --dir "$dir/$r" --daemonize no \
      --replicaof 127.0.0.1 "$primary" "$@" >"$dir/$r.log" 2>&1 &
    rpids+=($!)
  done
  for _ in $(seq 1 200); do
    redis-cli -p "$primary" info replication 2>/dev/null | grep -q '^connected_slaves:2' && break
    sleep 0.05
  done
  redis-cli -p "$primary" info replication | grep -q '^connected_slaves:2' \
    || { echo "redis $name: replicas did not attach" >&2; exit 1; }
  echo "redis ($name, 2 replicas)..." >&2
  result[redis_${name}_set]=$(rate "$primary" set)
  result[redis_${name}_get]=$(rate "$primary" get)
  result[redis_${name}_setp]=$(rate "$primary" set -P 16)
  kill "${rpids[@]}" 2>/dev/null || true
  wait "${rpids[@]}" 2>/dev/null || true
}
redis_run default
redis_run everysec --appendonly yes --appendfsync everysec
redis_run always --appendonly yes --appendfsync always

# --- CSTORE: three nodes per mode -------------------------------------------------------
"$r1" token rotate --token-file "$work/api.token" >/dev/null
export R1_API_TOKEN_FILE="$work/api.token"
declare -A api mesh resp
cstore_run() { # mode
  local mode=$1 cpids=()
  for n in a b c; do api[$n]=$(port); mesh[$n]=$(port); resp[$n]=$(port); done
  start_node() {
    local n=$1; shift
    "$r1" node --data-dir "$work/$mode-$n" --api "127.0.0.1:${api[$n]}" --api-token-file "$work/api.token" \
      --mesh-listen "127.0.0.1:${mesh[$n]}" --http off --resp "127.0.0.1:${resp[$n]}" \
      --cstore-durability "$mode" "$@" 2>"$work/$mode-$n.log" &
    cpids+=($!)
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
  echo "cstore ($mode, replicating to 2 peers)..." >&2
  if [ "$mode" = sync ]; then
    # On a quiet mesh, before the load (after it, B and C are still applying its backlog).
    python3 scripts/replication_latency.py "${resp[a]}" "${resp[c]}" "${LATENCY_SAMPLES:-300}"
  fi
  result[cstore_${mode}_set]=$(rate "${resp[a]}" set)
  result[cstore_${mode}_get]=$(rate "${resp[a]}" get)
  result[cstore_${mode}_setp]=$(rate "${resp[a]}" set -P 16)
  kill "${cpids[@]}" 2>/dev/null || true
  wait "${cpids[@]}" 2>/dev/null || true
}
cstore_run relaxed
cstore_run sync

echo "redis-benchmark -n $requests -c $clients on loopback; each side a primary with 2 replicas"
printf '%-40s %12s %12s %8s  %s\n' metric cstore redis ratio peer
row() { # key cstore redis peer-label
  printf '%-40s %12s %12s %8s  %s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")" "$4"
}
row cstore_set_sync_vs_redis_always "${result[cstore_sync_set]}" "${result[redis_always_set]}" "redis appendfsync always"
row cstore_set_relaxed_vs_redis_everysec "${result[cstore_relaxed_set]}" "${result[redis_everysec_set]}" "redis appendfsync everysec"
row cstore_set_relaxed_vs_redis_default "${result[cstore_relaxed_set]}" "${result[redis_default_set]}" "redis default (RDB snapshots)"
row cstore_get_vs_redis "${result[cstore_sync_get]}" "${result[redis_default_get]}" "redis default"
row cstore_set_p16_sync_vs_redis_always "${result[cstore_sync_setp]}" "${result[redis_always_setp]}" "-P 16"
row cstore_set_p16_relaxed_vs_redis_everysec "${result[cstore_relaxed_setp]}" "${result[redis_everysec_setp]}" "-P 16"

# --- Scale: convergence with 3, 10 and 30 nodes; a late joiner against 1 M keys -----------
clients="$(bash scripts/setup-clients.sh)"
"$clients/venv/bin/python" scripts/bench_cstore_scale.py "$r1"
