#!/usr/bin/env bash
# The fabric demo: three local nodes (throw-away data dirs) form a mesh; the pipeline app
# (source -> transform -> sink) is deployed with Deeploy, its stages spread over the nodes;
# text flows through it; the node running the sink is killed, the sink moves, text still
# flows and nothing stored is lost.
set -euo pipefail
cd "$(dirname "$0")/.."
r1="${R1_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/r1}"
wasm="${R1_GUEST_WASM_DIR:-$PWD/target/wasm}"
base="${R1_DEMO_PORT:-7412}"
data="$(mktemp -d -t r1-demo.XXXXXX)"
names=(a b c)
declare -A api mesh pid
for i in 0 1 2; do
  n=${names[$i]}
  api[$n]="127.0.0.1:$((base + 10 * i))"
  mesh[$n]="127.0.0.1:$((base + 10 * i + 1))"
done
unset R1_API_TOKEN R1_API_TOKEN_FILE R1_API

cleanup() {
  for n in "${names[@]}"; do
    [ -n "${pid[$n]:-}" ] && kill "${pid[$n]}" 2>/dev/null && wait "${pid[$n]}" 2>/dev/null
  done
  rm -rf "$data"
}
trap cleanup EXIT

# `on NODE r1-args…`: the r1 CLI against that node's API, with its token.
on() {
  local n=$1
  shift
  R1_API_TOKEN_FILE="$data/$n/api.token" "$r1" "$@" --api "${api[$n]}"
}
say() { printf '\n==> %s\n' "$*"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

say "starting three nodes a, b, c on this machine (data under $data); each runs Deeploy's scheduler and beats every 300 ms"
for n in "${names[@]}"; do
  join=()
  [ "$n" != a ] && join=(--join "${mesh[a]}")
  "$r1" node --data-dir "$data/$n" --api "${api[$n]}" --mesh-listen "${mesh[$n]}" \
    --resp off --http off --heartbeat-ms 300 --tag "zone=$n" \
    --scheduler "$wasm/deeploy_scheduler.wasm" "${join[@]}" 2>"$data/$n.log" &
  pid[$n]=$!
done
declare -A id
for n in "${names[@]}"; do
  for _ in $(seq 1 400); do
    on "$n" actor list >/dev/null 2>&1 && break
    kill -0 "${pid[$n]}" 2>/dev/null || { cat "$data/$n.log"; echo "node $n failed to start" >&2; exit 1; }
    sleep 0.05
  done
  id[$n]=$(on "$n" mesh status | json 'd["mesh"]["peer_id"]')
  echo "    node $n: ${id[$n]}"
done
for _ in $(seq 1 200); do
  [ "$(on a mesh nodes | grep -c 12D3)" -ge 3 ] && break
  sleep 0.1
done
on a mesh nodes | sed 's/^/    /'

say "deploying the pipeline app (examples/pipeline/app.toml), signed with a fresh publisher key"
"$r1" key new --out "$data/publisher.key" >/dev/null
on a deploy examples/pipeline/app.toml --key "$data/publisher.key" --wait-s 60 2>&1 | grep -v '^added ' | sed 's/^/    /'
on a app show pipeline | sed 's/^/    /'

input=$'every workload is an actor\nactors get only what they are granted\nwasm components start in microseconds'
say "sending three lines to the app's source stage, wherever it runs:"
printf '%s\n' "$input" | sed 's/^/    /'
on a app call pipeline --component source "$input" | sed 's/^/    /'

# The stages run asynchronously, each maybe on another node: wait for the sink to hold all.
dump() { on "$1" app call pipeline --component sink dump 2>/dev/null || true; }
wait_lines() {
  local n=$1 want=$2 out=""
  for _ in $(seq 1 200); do
    out="$(dump "$n")"
    [ "$(printf '%s\n' "$out" | grep -c .)" -ge "$want" ] && break
    sleep 0.05
  done
  printf '%s\n' "$out"
}
say "what the sink stored (CSTORE namespace 'pipeline', replicated to every node):"
wait_lines a 3 | sed 's/^/    /'

sink_node=$(on a app show pipeline --json | json '[s["node"] for s in d["placement"]["slots"] if s["component"]=="sink"][0]')
victim=""
for n in "${names[@]}"; do [ "${id[$n]}" = "$sink_node" ] && victim=$n; done
survivor=a
[ "$victim" = a ] && survivor=b
say "killing node $victim (it runs the sink) with SIGKILL: no goodbye, its heartbeats just stop"
started=$(date +%s.%N)
kill -9 "${pid[$victim]}"
wait "${pid[$victim]}" 2>/dev/null || true
pid[$victim]=""
moved=no
for _ in $(seq 1 300); do
  # Moved: the sink's slot is on a live node, and every slot reports running and healthy.
  moved=$(on "$survivor" app show pipeline --json | json '"yes" if all(s["node"] != "'"$sink_node"'" and any(n["node"] == s["node"] and any(r["component"] == s["component"] and r["healthy"] for r in n["replicas"]) for n in d["status"]) for s in d["placement"]["slots"]) else "no"')
  [ "$moved" = yes ] && break
  sleep 0.05
done
if [ "$moved" != yes ]; then
  on "$survivor" app show pipeline | sed 's/^/    /'
  echo "the sink did not move within 30 s" >&2
  exit 1
fi
printf '    the sink moved and serves again after %.1f s\n' "$(echo "$(date +%s.%N) - $started" | bc)"
on "$survivor" app show pipeline | sed 's/^/    /'

more=$'a node died\nthe fabric moved its stage'
say "sending two more lines through node $survivor:"
printf '%s\n' "$more" | sed 's/^/    /'
on "$survivor" app call pipeline --component source "$more" | sed 's/^/    /'
say "the sink, on its new node, holds the old lines and the new ones:"
wait_lines "$survivor" 5 | sed 's/^/    /'
say "the app's logs, gathered from every node that runs a stage (r1 app logs pipeline):"
on "$survivor" app logs pipeline | tail -n 5 | sed 's/^/    /'
say "done: three nodes, one app, one node lost, nothing lost"
