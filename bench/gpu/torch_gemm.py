#!/usr/bin/env python3
"""torch.mm at n x n x n on the GPU (the CPU when there is none), for bench/webgpu-gemm.ts:
fp32 with TF32 off (like-for-like with a WGSL float32 GEMM), TF32, fp16 and bf16. Warm-up by
time (the H100 needs 250-350 ms of work to reach its boost clock), then CUDA-event timing of
--reps products, median. Prints one JSON line."""
import argparse
import json
import time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=4096)
    p.add_argument("--reps", type=int, default=30)
    p.add_argument("--warmup-ms", type=float, default=500)
    a = p.parse_args()
    cuda = torch.cuda.is_available()
    dev = "cuda" if cuda else "cpu"
    name = torch.cuda.get_device_name() if cuda else "cpu"
    modes = [("fp32 (TF32 off)", torch.float32, False), ("TF32", torch.float32, True), ("fp16", torch.float16, False), ("bf16", torch.bfloat16, False)] if cuda else [("fp32", torch.float32, False)]
    g = torch.Generator(device=dev).manual_seed(0)
    rows = []
    for label, dtype, tf32 in modes:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        x = (torch.rand(a.n, a.n, device=dev, generator=g) * 2 - 1).to(dtype)
        y = (torch.rand(a.n, a.n, device=dev, generator=g) * 2 - 1).to(dtype)
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < a.warmup_ms / 1000:
            for _ in range(4):
                torch.mm(x, y)
            if cuda:
                torch.cuda.synchronize()
        times = []
        for _ in range(a.reps):
            if cuda:
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
                torch.mm(x, y)
                e.record()
                e.synchronize()
                times.append(s.elapsed_time(e))
            else:
                t = time.perf_counter()
                torch.mm(x, y)
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        ms = times[len(times) // 2]
        rows.append({"mode": label, "ms": ms, "gflops": 2 * a.n ** 3 / (ms / 1000) / 1e9})
    torch.backends.cuda.matmul.allow_tf32 = False
    print(json.dumps({"device": name, "torch": torch.__version__, "n": a.n, "rows": rows}))


if __name__ == "__main__":
    main()
