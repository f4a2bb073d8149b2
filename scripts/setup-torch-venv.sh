#!/usr/bin/env bash
# A virtualenv with PyTorch + sentence-transformers from PyPI, the peer R1's inference is
# measured and checked against. Prints the venv's python. Idempotent.
set -euo pipefail
venv="${R1_TORCH_VENV:-$HOME/.cache/r1/st-venv}"
if ! "$venv/bin/python" -c 'import sentence_transformers, torch' 2>/dev/null; then
  echo "creating $venv with torch + sentence-transformers (several GB on first run)…" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet sentence-transformers >&2
fi
echo "$venv/bin/python"
