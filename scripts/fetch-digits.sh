#!/usr/bin/env bash
# The handwritten digits dataset (1,797 images of 8×8 pixels, 10 classes) that scikit-learn
# bundles, taken from the scikit-learn package on PyPI (BSD-3-Clause; the data is the UCI
# "Optical Recognition of Handwritten Digits" set, CC BY 4.0). Written as CSV (64 pixel values
# 0-16, then the label) to $R1_DATASETS_DIR (default ~/.cache/r1/datasets)/digits.csv.
# Idempotent.
set -euo pipefail
datasets="${R1_DATASETS_DIR:-$HOME/.cache/r1/datasets}"
target="$datasets/digits.csv"
if [ -s "$target" ]; then echo "$target"; exit 0; fi
download="$(mktemp -d -t r1-digits.XXXXXX)"
trap 'rm -rf "$download"' EXIT
echo "fetching the scikit-learn wheel from PyPI for its digits data (about 9 MB)…" >&2
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$download" "scikit-learn==1.9.1" >&2
mkdir -p "$datasets"
python3 - "$download" "$target" <<'PY'
import glob, gzip, os, sys, zipfile
download, target = sys.argv[1], sys.argv[2]
data = None
for path in glob.glob(os.path.join(download, "*")):
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as z:
            data = z.read("sklearn/datasets/data/digits.csv.gz")
if data is None:
    sys.exit("no digits.csv.gz in the downloaded package")
rows = gzip.decompress(data).decode().strip().splitlines()
if len(rows) != 1797 or len(rows[0].split(",")) != 65:
    sys.exit(f"unexpected digits data: {len(rows)} rows")
tmp = target + ".tmp"
with open(tmp, "w") as out:
    out.write("\n".join(rows) + "\n")
os.rename(tmp, target)
PY
echo "$target"
