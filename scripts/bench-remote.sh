#!/usr/bin/env bash
# Actor messaging between nodes vs NATS, in one run on one loopback:
# - request/reply, 64-byte payloads: R1 an actor on node A asking an actor on node B
#   (1 in flight: one asker; 50 in flight: 50 askers at once), NATS a client asking a
#   responder client through nats-server (1 and 50 requests in flight);
# - publish/subscribe fan-out: R1 an actor on A publishing to subscribers on B and C, NATS a
#   publisher and the same number of subscriber connections; delivered messages per second,
#   each subscriber timed from its first to its last message.
#
# Usage: scripts/bench-remote.sh [r1 (release)] [nats-bench (release)]   (`make bench-remote`)
set -euo pipefail
cd "$(dirname "$0")/.."
r1="${1:-${CARGO_TARGET_DIR:-$PWD/target}/release/r1}"
nats_bench="${2:-${CARGO_TARGET_DIR:-$PWD/target}/nats-bench/release/nats-bench}"
requests="${BENCH_REQUESTS:-5000}"        # 1 in flight
requests50="${BENCH_REQUESTS_50:-25000}"  # 50 in flight, in total
messages="${BENCH_MESSAGES:-50000}"       # published, each to every subscriber
subscribers="${BENCH_SUBSCRIBERS:-4}"     # half on node B, half on node C
wasm="${R1_GUEST_WASM_DIR:-$PWD/target/wasm}"
[ -x "$r1" ] || { echo "no r1 binary at $r1 (cargo build --release -p r1-cli)" >&2; exit 1; }
[ -x "$nats_bench" ] || { echo "no nats-bench at $nats_bench (see make bench-remote)" >&2; exit 1; }
for g in guest_ping guest_pong guest_mesh_probe; do
  [ -f "$wasm/$g.wasm" ] || { echo "no $wasm/$g.wasm (make guests)" >&2; exit 1; }
done
if ! command -v nats-server >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "[bench-remote] installing nats-server from Debian" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >&2 ||
    { $sudo apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nats-server >&2; }
fi

BENCH_NAME=bench-remote source scripts/bench-lib.sh
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
now_ns() { date +%s%N; }

# --- NATS -------------------------------------------------------------------------------
nats_port=$(port)
nats-server -a 127.0.0.1 -p "$nats_port" >"$work/nats.log" 2>&1 &
pids+=($!)
nats="nats://127.0.0.1:$nats_port"
for _ in $(seq 1 100); do "$nats_bench" "$nats" request 1 1 >/dev/null 2>&1 && break; sleep 0.05; done
echo "NATS (nats-server $(nats-server --version | awk '{print $NF}'), async-nats)..." >&2
n_req1=$("$nats_bench" "$nats" request "$requests" 1)
n_req50=$("$nats_bench" "$nats" request "$requests50" 50)
n_fan=$("$nats_bench" "$nats" fanout "$messages" "$subscribers")

# --- R1 ---------------------------------------------------------------------------------
"$r1" token rotate --token-file "$work/api.token" >/dev/null
export R1_API_TOKEN_FILE="$work/api.token"
# Long deadlines: one benchmark call runs thousands of round trips inside one handler.
printf '[runtime.default_limits]\ndeadline = 120000\n' >"$work/node.toml"
declare -A api mesh
for n in a b c; do api[$n]=$(port); mesh[$n]=$(port); done
start_node() {
  local n=$1; shift
  "$r1" node --config "$work/node.toml" --data-dir "$work/$n" --api "127.0.0.1:${api[$n]}" \
    --api-token-file "$work/api.token" --mesh-listen "127.0.0.1:${mesh[$n]}" --resp off --http off "$@" 2>"$work/$n.log" &
  pids+=($!)
}
start_node a
start_node b --join "127.0.0.1:${mesh[a]}"
start_node c --join "127.0.0.1:${mesh[a]}" --join "127.0.0.1:${mesh[b]}"
on() { local n=$1; shift; R1_API="127.0.0.1:${api[$n]}" "$r1" "$@"; }
for n in a b c; do
  for _ in $(seq 1 400); do on "$n" mesh status >/dev/null 2>&1 && break; sleep 0.05; done
done
node_b=$(on b mesh status | python3 -c 'import json,sys; print(json.load(sys.stdin)["mesh"]["peer_id"])')
on b actor start "$wasm/guest_pong.wasm" --name pong >/dev/null
on a actor start "$wasm/guest_ping.wasm" --name ping0 --grant mesh --config "peer=$node_b/pong" >/dev/null
for _ in $(seq 1 400); do on a actor where pong >/dev/null 2>&1 && break; sleep 0.05; done
echo "R1 (three nodes, release build)..." >&2
on a send ping0 "bench:500" >/dev/null   # warm-up
r_req1=$(on a send ping0 "bench:$requests")
askers=50
per=$((requests50 / askers))
for i in $(seq 1 $askers); do
  on a actor start "$wasm/guest_ping.wasm" --name "ping$i" --grant mesh --config "peer=$node_b/pong" >/dev/null
done
for i in $(seq 1 $askers); do on a send "ping$i" "bench:20" >/dev/null; done   # warm-up
t0=$(now_ns)
askers_pids=()
for i in $(seq 1 $askers); do on a send "ping$i" "bench:$per" >"$work/ping$i.out" & askers_pids+=($!); done
for p in "${askers_pids[@]}"; do wait "$p"; done
t1=$(now_ns)
r50_secs=$(python3 -c "print(($t1-$t0)/1e9)")
r50_p50=$(cat "$work"/ping*.out | python3 -c '
import sys,statistics
v=[float(t.split("=")[1]) for l in sys.stdin for t in l.split() if t.startswith("p50_ns=")]
print(statistics.median(v)/1000 if v else 0)')

# Fan-out: subscribers on B and C, the publisher on A.
subs=()
for i in $(seq 1 "$subscribers"); do
  n=b; [ $((i % 2)) -eq 0 ] && n=c
  on "$n" actor start "$wasm/guest_mesh_probe.wasm" --name "sub$i" --grant mesh --config record=0 >/dev/null
  on "$n" send "sub$i" "subscribe bench" >/dev/null
  subs+=("$n:sub$i")
done
on a actor start "$wasm/guest_mesh_probe.wasm" --name pub --grant mesh >/dev/null
for _ in $(seq 1 400); do
  reached=$(field "$(on a send pub 'publish bench 1')" reached)
  [ "$reached" -ge "$subscribers" ] && break
  sleep 0.05
done
sleep 0.5
for s in "${subs[@]}"; do on "${s%%:*}" send "${s#*:}" reset >/dev/null; done
r_pub=$(on a send pub "publish bench $messages")
# Wait until no subscriber's count moves for a second.
last=-1
while :; do
  sleep 1
  total=0
  for s in "${subs[@]}"; do total=$((total + $(on "${s%%:*}" send "${s#*:}" count))); done
  [ "$total" -eq "$last" ] && break
  last=$total
done
r_delivered=0; r_span=0
for s in "${subs[@]}"; do
  st=$(on "${s%%:*}" send "${s#*:}" stats)
  r_delivered=$((r_delivered + $(field "$st" count)))
  sp=$(field "$st" span_ns); [ "$sp" -gt "$r_span" ] && r_span=$sp
done

python3 - "$n_req1" "$n_req50" "$n_fan" "$r_req1" "$requests50" "$r50_secs" "$r50_p50" "$r_pub" "$r_delivered" "$r_span" "$messages" "$subscribers" <<'PY'
import sys
def kv(s): return dict(t.split("=") for t in s.split())
n1, n50, nf = kv(sys.argv[1]), kv(sys.argv[2]), kv(sys.argv[3])
r1 = kv(sys.argv[4]); r50_n = int(sys.argv[5]); r50_secs = float(sys.argv[6]); r50_p50 = float(sys.argv[7])
rpub = kv(sys.argv[8]); r_deliv = int(sys.argv[9]); r_span = int(sys.argv[10]) / 1e9
msgs, subs = int(sys.argv[11]), int(sys.argv[12])
n1_rps = int(n1["requests"]) / float(n1["secs"]); r1_rps = int(r1["n"]) / (int(r1["total_ns"]) / 1e9)
n50_rps = int(n50["requests"]) / float(n50["secs"]); r50_rps = r50_n / r50_secs
nf_rate = int(nf["delivered"]) / max(float(nf["secs"]), 1e-9); rf_rate = r_deliv / max(r_span, 1e-9)
print(f"{'':34}{'R1':>14}{'NATS':>14}{'R1/NATS':>10}")
print(f"{'request 64 B, 1 in flight: req/s':34}{r1_rps:>14,.0f}{n1_rps:>14,.0f}{r1_rps/n1_rps:>10.2f}")
print(f"{'  p50 us':34}{int(r1['p50_ns'])/1000:>14.1f}{float(n1['p50_us']):>14.1f}")
print(f"{'  p99 us':34}{int(r1['p99_ns'])/1000:>14.1f}{float(n1['p99_us']):>14.1f}")
print(f"{'request 64 B, 50 in flight: req/s':34}{r50_rps:>14,.0f}{n50_rps:>14,.0f}{r50_rps/n50_rps:>10.2f}")
print(f"{'  p50 us':34}{r50_p50:>14.1f}{float(n50['p50_us']):>14.1f}")
print(f"{f'fan-out to {subs}: delivered msg/s':34}{rf_rate:>14,.0f}{nf_rate:>14,.0f}{rf_rate/nf_rate:>10.2f}")
print(f"{'  delivered of published x subs':34}{r_deliv:>9}/{msgs*subs:<4}{int(nf['delivered']):>9}/{msgs*subs:<4}")
print()
print(f"remote_request_p50_us = {int(r1['p50_ns'])/1000:.1f} (NATS {float(n1['p50_us']):.1f})")
print(f"remote_request_vs_nats = {r1_rps/n1_rps:.2f} (1 in flight), {r50_rps/n50_rps:.2f} (50 in flight)")
print(f"remote_publish_vs_nats = {rf_rate/nf_rate:.2f}")
PY
