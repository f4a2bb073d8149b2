#!/usr/bin/env bash
# Sentence embeddings, R1 vs PyTorch + sentence-transformers, in one run on this machine: the
# same model files (all-MiniLM-L6-v2 from PyPI), the same sentences (the test fixture repeated
# to BENCH_SENTENCES, default 256), batch 1 and batch 32. R1_DEVICE=cuda compares on the GPU
# (build with `--features cuda`).
#
# Usage: scripts/bench-infer.sh   (`make bench-infer`)
set -euo pipefail
cd "$(dirname "$0")/.."
count="${BENCH_SENTENCES:-256}"
device="${R1_DEVICE:-cpu}"
model_dir=$(bash scripts/fetch-models.sh)
python=$(bash scripts/setup-torch-venv.sh)
sentences=host/infer/tests/fixtures/sentences.txt
features=()
[[ "$device" == cuda* ]] && features=(--features cuda)

r1_line=$(R1_MODELS_DIR="$(dirname "$model_dir")" R1_BENCH_SENTENCES="$count" R1_DEVICE="$device" \
  cargo bench --quiet -p r1-infer "${features[@]}" --bench embed 2>/dev/null | grep '^r1 ')
torch_line=$(HF_HUB_OFFLINE=1 R1_DEVICE="$device" "$python" scripts/bench_infer_torch.py \
  "$model_dir" "$sentences" "$count" 2>/dev/null | grep '^torch ')
echo "$r1_line"
echo "$torch_line"
field() { sed -E "s/.*$1=([0-9.]+).*/\1/" <<<"$2"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
kind=cpu; [[ "$device" == cuda* ]] && kind=cuda
printf '%-28s %10s %10s %8s\n' metric "r1 sent/s" "torch" ratio
for b in b1 b32; do
  r=$(field "$b" "$r1_line"); t=$(field "$b" "$torch_line")
  printf '%-28s %10s %10s %8s\n' "embed_${b}_vs_pytorch_$kind" "$r" "$t" "$(ratio "$r" "$t")"
done
