"""TenSEAL CKKS (what NVIDIA FLARE uses) on the same job as EDIL's benchmark: K clients encrypt
N values each, the ciphertexts are summed, the sum is decrypted. CKKS N = 8192 (4,096 slots per
ciphertext), coefficient moduli [60, 40, 40, 60], scale 2^40.

Usage: python bench_edil_tenseal.py DATA_FILE K N   (DATA_FILE: K·N little-endian f32)
Prints `tenseal total_s=… encrypt_s=… aggregate_s=… decrypt_s=… bytes_per_value=… max_abs_error=…`.
"""
import sys
import time

import numpy as np
import tenseal as ts

path, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = np.fromfile(path, dtype="<f4").reshape(k, n)
ctx = ts.context(ts.SCHEME_TYPE.CKKS, poly_modulus_degree=8192, coeff_mod_bit_sizes=[60, 40, 40, 60])
ctx.global_scale = 2**40
slots = 4096

started = time.perf_counter()
clients = [
    [ts.ckks_vector(ctx, data[c, i:i + slots].tolist()) for i in range(0, n, slots)]
    for c in range(k)
]
encrypt = time.perf_counter() - started

started = time.perf_counter()
total = clients[0]
for other in clients[1:]:
    for a, b in zip(total, other):
        a.add_(b)
aggregate = time.perf_counter() - started

started = time.perf_counter()
decrypted = np.concatenate([np.array(c.decrypt()) for c in total])
decrypt = time.perf_counter() - started

size = sum(len(c.serialize()) for c in clients[1])
expected = data.astype(np.float64).sum(axis=0)
error = float(np.max(np.abs(decrypted - expected)))
print(
    f"tenseal total_s={encrypt + aggregate + decrypt:.3f} encrypt_s={encrypt:.3f} "
    f"aggregate_s={aggregate:.3f} decrypt_s={decrypt:.3f} bytes_per_value={size / n:.2f} "
    f"max_abs_error={error:.3e}"
)
