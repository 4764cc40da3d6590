#!/usr/bin/env python3
"""PyTorch peer for bench/gemm.ts: times torch.mm on square float32 matrices (warm-up, then the
median, or with --stat best the fastest, of up to --reps runs within --max-ms per size) and prints one JSON line with the
seconds per size, the torch version, the thread count and which BLAS library is loaded.

    OMP_NUM_THREADS=1 /usr/bin/python3 bench/torch_mm.py --sizes 256,512,1024,2048 --threads 1

Debian's torch links the reference BLAS (libblas.so.3, a few GFLOP/s); preload OpenBLAS for a
fair peer: LD_LIBRARY_PATH=$(sh bench/peers/openblas.sh) (bench/gemm.ts runs both).
"""
import argparse
import json
import os
import statistics
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--sizes", default="256,512,1024,2048")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--reps", type=int, default=7)
p.add_argument("--max-ms", type=float, default=1500)
p.add_argument("--stat", choices=["median", "best"], default="median")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)


def blas_loaded():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
    except OSError:
        return "unknown"
    names = sorted(os.path.basename(x) for x in libs)
    if any("openblas" in x for x in libs):
        return "OpenBLAS (" + ", ".join(names) + ")"
    return "reference BLAS (" + ", ".join(names) + ")" if names else "none"


results = {}
for n in [int(s) for s in a.sizes.split(",")]:
    x = torch.randn(n, n)
    y = torch.randn(n, n)
    out = torch.empty(n, n)
    torch.mm(x, y, out=out)  # warm-up (also loads the BLAS)
    times = []
    start = time.perf_counter()
    while len(times) < a.reps and (len(times) < 1 or (time.perf_counter() - start) * 1000 < a.max_ms):
        t = time.perf_counter()
        torch.mm(x, y, out=out)
        times.append(time.perf_counter() - t)
    results[str(n)] = min(times) if a.stat == "best" else statistics.median(times)

print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_loaded(), "seconds": results}))
