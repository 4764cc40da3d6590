#!/usr/bin/env python3
"""PyTorch CPU runner for bench/e2e-inference.ts: torchvision's resnet50 / mobilenet_v2 with
the weights of .bench-cache/e2e/<model>.safetensors (bench/peers/export_onnx.py), eval mode,
under torch.no_grad(); times whole forward passes (warm-up, then the median of --runs) at each
batch on the first rows of input.bin, and writes the timings as JSON plus the logits per cell
for the agreement check. Mirrors bench/peers/e2e-runner.ts.

    OMP_NUM_THREADS=1 /usr/bin/python3 bench/peers/torch_e2e.py --threads 1 --models resnet50,mobilenet_v2 \
        --batch 1,8 --runs 10 --result out.json --outdir .bench-cache/e2e/out/torch-t1

Each cell is timed two ways and the faster median kept (the JSON's "path" says which won):
NCHW (torch's default memory format) and channels_last (model and input converted before
timing; on Debian's oneDNN 2.6 NCHW takes slow paths for the 3-channel stem and large
depthwise layers). Run with OpenBLAS preloaded (bench/peers/openblas.sh): Debian's torch
links the reference BLAS, which some 1x1 convolutions and the classifier reach.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument("--cache", default=".bench-cache/e2e")
p.add_argument("--models", default="resnet50,mobilenet_v2")
p.add_argument("--batch", default="1,8")
p.add_argument("--threads", type=int, default=1)
p.add_argument("--runs", type=int, default=10)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--paths", default="nchw,channels_last")
p.add_argument("--result", required=True)
p.add_argument("--outdir", required=True)
a = p.parse_args()
torch.set_num_threads(a.threads)
os.makedirs(a.outdir, exist_ok=True)
SIZE = 224
BUILDERS = {"resnet50": torchvision.models.resnet50, "mobilenet_v2": torchvision.models.mobilenet_v2}
NP = {"F32": "<f4", "I64": "<i8"}


def read_safetensors(path):
    with open(path, "rb") as f:
        buf = f.read()
    n = int.from_bytes(buf[:8], "little")
    header = json.loads(buf[8:8 + n])
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        s, e = h["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(buf[8 + n + s:8 + n + e], dtype=NP[h["dtype"]]).reshape(h["shape"]).copy())
    return out


def blas_loaded():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
        return ", ".join(sorted(os.path.basename(x) + (" (openblas)" if "openblas" in x else "") for x in libs)) or "none"
    except OSError:
        return "unknown"


def measure(run):
    for _ in range(a.warmup):
        run()
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    return {"medianMs": median, "minMs": times[0], "runs": n}


batches = [int(b) for b in a.batch.split(",")]
x_all = np.fromfile(os.path.join(a.cache, "input.bin"), dtype="<f4").reshape(-1, 3, SIZE, SIZE)
result = {"runner": "torch", "threads": a.threads, "cells": {}, "errors": {}}
with torch.no_grad():
    for name in a.models.split(","):
        try:
            model = BUILDERS[name]()
            model.load_state_dict(read_safetensors(os.path.join(a.cache, f"{name}.safetensors")), strict=True)
            model.eval()
        except Exception as e:  # noqa: BLE001 - reported per cell
            for b in batches:
                result["errors"][f"{name}.b{b}"] = str(e)
            continue
        for b in batches:
            cell = f"{name}.b{b}"
            try:
                x = torch.from_numpy(x_all[:b].copy())
                best = None
                for path in a.paths.split(","):
                    fmt = torch.channels_last if path == "channels_last" else torch.contiguous_format
                    m = model.to(memory_format=fmt)
                    xi = x.contiguous(memory_format=fmt)
                    t = measure(lambda: m(xi))
                    t["path"] = "channels_last" if path == "channels_last" else "NCHW"
                    if best is None or t["medianMs"] < best[1]["medianMs"]:
                        best = (path, t, m(xi).contiguous().numpy().astype("<f4"))
                result["cells"][cell] = best[1]
                best[2].tofile(os.path.join(a.outdir, cell + ".bin"))
                print(f"  torch {a.threads}T {cell}: {best[1]['medianMs']:.1f} ms median ({best[1]['path']})", flush=True, file=__import__("sys").stderr)
            except Exception as e:  # noqa: BLE001
                result["errors"][cell] = str(e)

result["config"] = (
    f"PyTorch {torch.__version__} (Debian python3-torch) + torchvision {torchvision.__version__}, eval, no_grad, "
    f"faster of {' / '.join(a.paths.split(','))} memory format per cell, oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, "
    f"torch.set_num_threads({a.threads}), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, BLAS: {blas_loaded()}"
)
with open(a.result, "w") as f:
    json.dump(result, f, indent=2)
