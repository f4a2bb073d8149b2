#!/usr/bin/env bash
# R1FS vs iroh-blobs, in one run, on the same random file (BENCH_MB, default 256 MiB):
# - add: hash + store into a fresh on-disk store, opening the store included (R1FS: `r1 fs
#   add --data-dir`, offline, a new process; iroh-blobs: FsStore load + add_path), MB/s. An
#   R1FS add returns once its blocks are on the device; iroh-blobs's returns with them in the
#   page cache, so iroh-blobs is also measured with its store synced afterwards (add_synced),
#   the like-for-like figure, printed as a second row;
# - fetch: a second node/endpoint with its own on-disk store fetches the whole file from the
#   first over loopback (R1FS: two `r1 node` processes, `r1 fs pin` on B pulls every chunk over
#   the mesh; iroh-blobs: two endpoints, remote().fetch), MB/s.
# Each side runs BENCH_RUNS times (default 3); the best run of each is compared.
#
# Usage: scripts/bench-r1fs.sh [path/to/r1 (release)] [path/to/iroh-blobs-bench]
#        (`make bench-r1fs` builds both; iroh-blobs is its own workspace in bench/iroh-blobs)
set -euo pipefail
cd "$(dirname "$0")/.."
r1="${1:-${CARGO_TARGET_DIR:-$PWD/target}/release/r1}"
iroh="${2:-}"
size_mb="${BENCH_MB:-256}"
runs="${BENCH_RUNS:-3}"
[ -x "$r1" ] || { echo "no r1 binary at $r1 (cargo build --release -p r1-cli)" >&2; exit 1; }
[ -x "$iroh" ] || { echo "no iroh-blobs-bench binary at '$iroh'" >&2; exit 1; }

work="$(mktemp -d -t r1fs-bench.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
mbps() { python3 -c "print('%.1f' % ($size_mb * 1048576 / 1e6 / ($2 - $1)))"; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }

data="$work/data.bin"
head -c "$((size_mb * 1048576))" /dev/urandom >"$data"
sync   # the data file's own writeback must not land inside anyone's timing
echo "data: $size_mb MiB of random bytes, $runs runs each, best run compared"

# One API token for every node of every run, so the CLI reaches each with it.
"$r1" token rotate --token-file "$work/api.token" >/dev/null
export R1_API_TOKEN_FILE="$work/api.token"

r1_run() { # run index -> "add_mbps fetch_mbps"
  local dir="$work/r1-$1" api_a api_b mesh_a mesh_b cid t0 t1
  api_a=$(port); api_b=$(port); mesh_a=$(port); mesh_b=$(port)
  sync
  t0=$(now)
  cid=$("$r1" fs add --data-dir "$dir/a" "$data" 2>/dev/null)
  t1=$(now)
  local add; add=$(mbps "$t0" "$t1")
  "$r1" node --data-dir "$dir/a" --api "127.0.0.1:$api_a" --api-token-file "$work/api.token" --mesh-listen "127.0.0.1:$mesh_a" --resp off --http off \
    2>"$dir/a.log" & pids+=($!)
  "$r1" node --data-dir "$dir/b" --api "127.0.0.1:$api_b" --api-token-file "$work/api.token" --mesh-listen "127.0.0.1:$mesh_b" --resp off --http off \
    --join "127.0.0.1:$mesh_a" 2>"$dir/b.log" & pids+=($!)
  for _ in $(seq 1 200); do R1_API="127.0.0.1:$api_a" "$r1" mesh status >/dev/null 2>&1 && break; sleep 0.05; done
  # A announces itself as provider; wait until the record reached B.
  R1_API="127.0.0.1:$api_a" "$r1" fs pin "$cid" >/dev/null
  for _ in $(seq 1 400); do
    R1_API="127.0.0.1:$api_b" "$r1" cstore hgetall r1fs "providers/$cid" 2>/dev/null | grep -q . && break
    sleep 0.05
  done
  sync
  t0=$(now)
  R1_API="127.0.0.1:$api_b" "$r1" fs pin "$cid" >/dev/null
  t1=$(now)
  local fetch; fetch=$(mbps "$t0" "$t1")
  R1_API="127.0.0.1:$api_b" "$r1" fs cat "$cid" | cmp -s - "$data" \
    || { echo "R1FS fetch on B returned different bytes" >&2; exit 1; }
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pids=()
  rm -rf "$dir"
  echo "$add $fetch"
}

r1_add=(); r1_fetch=(); iroh_add=(); iroh_add_synced=(); iroh_fetch=()
for i in $(seq 1 "$runs"); do
  r1_run "$i" >"$work/r1-result"   # not in a subshell, so cleanup still sees its nodes
  read -r a f <"$work/r1-result"
  r1_add+=("$a"); r1_fetch+=("$f")
  sync
  line=$("$iroh" "$data" "$work/iroh-$i")
  rm -rf "$work/iroh-$i"
  iroh_add+=("$(sed -E 's/.*add_mbps=([0-9.]+).*/\1/' <<<"$line")")
  iroh_add_synced+=("$(sed -E 's/.*add_synced_mbps=([0-9.]+).*/\1/' <<<"$line")")
  iroh_fetch+=("$(sed -E 's/.*fetch_mbps=([0-9.]+).*/\1/' <<<"$line")")
  echo "run $i: r1fs add ${a} MB/s fetch ${f} MB/s | iroh-blobs $line"
done

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
ra=$(best "${r1_add[@]}"); rf=$(best "${r1_fetch[@]}")
ia=$(best "${iroh_add[@]}"); ias=$(best "${iroh_add_synced[@]}"); if_=$(best "${iroh_fetch[@]}")
printf '%-20s %12s %12s %8s\n' metric "r1fs MB/s" "iroh MB/s" ratio
printf '%-20s %12s %12s %8s\n' r1fs_add_vs_iroh "$ra" "$ia" "$(ratio "$ra" "$ia")"
printf '%-20s %12s %12s %8s\n' "  (iroh synced)" "$ra" "$ias" "$(ratio "$ra" "$ias")"
printf '%-20s %12s %12s %8s\n' r1fs_fetch_vs_iroh "$rf" "$if_" "$(ratio "$rf" "$if_")"
