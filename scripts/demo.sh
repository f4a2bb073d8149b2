#!/usr/bin/env bash
# The demo: a local node on the embedded default (in a throw-away data dir), the three
# pipeline actors chained by topics (source -> transform -> sink), some text through it.
set -euo pipefail
cd "$(dirname "$0")/.."
r1="${R1_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/r1}"
wasm="${R1_GUEST_WASM_DIR:-$PWD/target/wasm}"
export R1_API="${R1_DEMO_API:-127.0.0.1:7412}"
data="$(mktemp -d -t r1-demo.XXXXXX)"
log="$data/node.log"

cleanup() {
  [ -n "${node_pid:-}" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT

echo "==> starting a node (data dir $data, API $R1_API)"
# The node makes its API token (0600) in its data dir; the CLI calls below send it.
export R1_API_TOKEN_FILE="$data/api.token"
unset R1_API_TOKEN
"$r1" node --data-dir "$data" --api "$R1_API" --mesh-listen 127.0.0.1:0 --resp off --http off 2>"$log" &
node_pid=$!
for _ in $(seq 1 200); do
  "$r1" actor list >/dev/null 2>&1 && break
  kill -0 "$node_pid" 2>/dev/null || { cat "$log"; echo "node failed to start" >&2; exit 1; }
  sleep 0.05
done

echo "==> deploying the pipeline: source -> [pipeline.raw] -> transform -> [pipeline.clean] -> sink"
"$r1" actor start "$wasm/pipeline_sink.wasm" --name sink --grant cstore:pipeline >/dev/null
"$r1" actor start "$wasm/pipeline_transform.wasm" --name transform >/dev/null
"$r1" actor start "$wasm/pipeline_source.wasm" --name source >/dev/null
"$r1" actor list

input=$'every workload is an actor\nactors get only what they are granted\nwasm components start in microseconds'
echo "==> sending to source:"
printf '%s\n' "$input" | sed 's/^/    /'
"$r1" send source "$input"

# The stages run asynchronously; wait for all three lines to reach the sink.
for _ in $(seq 1 100); do
  out="$("$r1" send sink dump)"
  [ "$(printf '%s\n' "$out" | grep -c .)" -ge 3 ] && break
  sleep 0.05
done
echo "==> pipeline output (stored by sink in CSTORE namespace 'pipeline'):"
printf '%s\n' "$out" | sed 's/^/    /'
echo "==> what the sink printed, from the node log:"
grep -o 'sink got #.*' "$log" | sed 's/\x1b\[[0-9;]*m//g; s/ actor=.*//; s/^/    /'
