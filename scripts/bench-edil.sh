#!/usr/bin/env bash
# EDIL vs TenSEAL CKKS on the same federated job, in one run: K = 10 clients × 1,000,000 values
# (the same numbers for both: EDIL's benchmark writes them, TenSEAL reads them), encrypt all,
# aggregate, decrypt. Prints both lines and the BENCHMARKS.md rows.
#
# Usage: scripts/bench-edil.sh   (`make bench-edil`)
set -euo pipefail
cd "$(dirname "$0")/.."
k="${R1_EDIL_CLIENTS:-10}"
n="${R1_EDIL_VALUES:-1000000}"
venv="${R1_TENSEAL_VENV:-$HOME/.cache/r1/tenseal-venv}"
if ! "$venv/bin/python" -c 'import tenseal, numpy' 2>/dev/null; then
  echo "creating $venv with tenseal + numpy from PyPI…" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet tenseal numpy >&2
fi
work="$(mktemp -d -t r1-edil-bench.XXXXXX)"
trap 'rm -rf "$work"' EXIT
data="$work/values.f32"

# The dev profile builds every dependency (tfhe included) at opt-level 3 and r1-edil too
# (see Cargo.toml), so tfhe is compiled once for tests and benchmark alike.
edil=$(R1_EDIL_DATA="$data" R1_EDIL_CLIENTS="$k" R1_EDIL_VALUES="$n" \
  cargo run --quiet -p r1-edil --example edil_job 2>/dev/null | grep '^edil ')
tenseal=$("$venv/bin/python" scripts/bench_edil_tenseal.py "$data" "$k" "$n" | grep '^tenseal ')
echo "$edil"
echo "$tenseal"
field() { sed -E "s/.*$1=([0-9.e+-]+).*/\1/" <<<"$2"; }
printf '%-28s %12s %12s\n' metric edil tenseal
printf '%-28s %12s %12s   speedup %s\n' "total seconds" "$(field total_s "$edil")" "$(field total_s "$tenseal")" \
  "$(python3 -c "print('%.2f' % ($(field total_s "$tenseal") / $(field total_s "$edil")))")"
printf '%-28s %12s %12s\n' "bytes per value" "$(field bytes_per_value "$edil")" "$(field bytes_per_value "$tenseal")"
printf '%-28s %12s %12s\n' "max abs error" "$(field max_abs_error "$edil")" "$(field max_abs_error "$tenseal")"
