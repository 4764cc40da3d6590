#!/usr/bin/env python3
"""PyTorch on the GPU (or the CPU when there is none), for bench/webgpu-models.ts: torchvision
model inference and SGD training images/s at each batch size, in fp32 with TF32 off (the
like-for-like row), TF32, and bf16 autocast; and a square fp32 GEMM. Each timing starts after
--warmup-ms of back-to-back work. Prints markdown rows."""
import argparse
import time

import torch
import torchvision


def timed(fn, steps, sync, warmup_s):
    # Warm up by time, not by count: an H100 idles at 345 MHz and needs 250-350 ms of work to
    # reach its boost clock.
    fn()
    sync()
    t0 = time.perf_counter()
    while True:
        fn()
        sync()
        if time.perf_counter() - t0 >= warmup_s:
            break
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="resnet50")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", default="64,128")
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--gemm", type=int, default=4096)
    p.add_argument("--warmup-ms", type=float, default=500)
    a = p.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name() if dev == "cuda" else "cpu"
    modes = [("fp32, TF32 off", False, None), ("TF32", True, None), ("bf16 autocast", True, torch.bfloat16)] if dev == "cuda" else [("fp32", False, None)]
    for label, tf32, amp in modes:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        for batch in [int(b) for b in a.batch.split(",")]:
            torch.manual_seed(0)
            model = getattr(torchvision.models, a.model)().to(dev)
            x = torch.randn(batch, 3, a.size, a.size, device=dev)
            y = torch.arange(batch, device=dev) % 1000
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            ctx = (lambda: torch.autocast(dev, dtype=amp)) if amp else (lambda: torch.autocast(dev, enabled=False))

            def infer():
                with torch.no_grad(), ctx():
                    model(x)

            def train():
                opt.zero_grad()
                with ctx():
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()

            model.eval()
            ti = timed(infer, a.steps, sync, a.warmup_ms / 1000)
            model.train()
            tt = timed(train, a.steps, sync, a.warmup_ms / 1000)
            print(f"| torch {torch.__version__} {name} {label} | {a.model} | {batch} | {batch / ti:.1f} | {batch / tt:.1f} |")
    torch.backends.cuda.matmul.allow_tf32 = False
    m = torch.randn(a.gemm, a.gemm, device=dev)
    t = timed(lambda: m @ m, a.steps, sync, a.warmup_ms / 1000)
    print(f"| torch {name} fp32 (TF32 off) | {a.gemm}^3 | {2 * a.gemm ** 3 / t / 1e9:.1f} GFLOP/s |")


if __name__ == "__main__":
    main()
