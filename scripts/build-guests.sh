#!/usr/bin/env bash
# Builds every guest (examples, test guests, system actors) into components under
# $R1_GUEST_WASM_DIR (default target/wasm), using the `r1 build` of the host build.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${R1_GUEST_WASM_DIR:-$PWD/target/wasm}"
r1="${R1_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/r1}"
[ -x "$r1" ] || { echo "build the host first (cargo build -p r1-cli); no $r1" >&2; exit 1; }
crates=()
for manifest in examples/*/Cargo.toml examples/*/*/Cargo.toml actors/*/Cargo.toml tests/guests/*/Cargo.toml; do
  [ -f "$manifest" ] && crates+=("$(dirname "$manifest")")
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/guests"
echo "building ${#crates[@]} guest components into $out" >&2
"$r1" build --out-dir "$out" "${crates[@]}" >/dev/null
ls "$out"/*.wasm | sed 's/^/  /' >&2
