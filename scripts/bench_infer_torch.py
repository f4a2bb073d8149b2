"""PyTorch + sentence-transformers on the sentences R1's embed benchmark uses (same model
files, same order, CPU unless R1_DEVICE=cuda): sentences per second at batch 1 and batch 32.

Usage: python bench_infer_torch.py MODEL_DIR SENTENCES_FILE COUNT
Prints `torch b1=<sentences/s> b32=<sentences/s> device=<d>`.
"""
import os
import sys
import time

import torch
from sentence_transformers import SentenceTransformer

model_dir, sentences_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = [line.rstrip("\n") for line in open(sentences_path, encoding="utf-8") if line.strip()]
sentences = [base[i % len(base)] for i in range(count)]
device = "cuda" if os.environ.get("R1_DEVICE", "cpu").startswith("cuda") else "cpu"
model = SentenceTransformer(model_dir, device=device)


def sync():
    if device == "cuda":
        torch.cuda.synchronize()


with torch.inference_mode():
    for i in range(0, 64, 32):  # warm-up, as the R1 side does
        model.encode(sentences[i:i + 32], batch_size=32)
    sync()
    started = time.perf_counter()
    for s in sentences:
        model.encode([s], batch_size=1)
    sync()
    b1 = len(sentences) / (time.perf_counter() - started)
    started = time.perf_counter()
    for i in range(0, len(sentences), 32):
        model.encode(sentences[i:i + 32], batch_size=32)
    sync()
    b32 = len(sentences) / (time.perf_counter() - started)
print(f"torch b1={b1:.1f} b32={b32:.1f} device={device} threads={torch.get_num_threads()}")
