#!/usr/bin/env python3
"""PyTorch CPU runner for bench/conv-layers.ts: times F.conv2d (batch 1, fp32, with bias) per
layer under torch.no_grad(), warm-up then median, like bench/peers/layers.ts `measure`, and
writes the timings as JSON plus one NCHW float32 output per layer for the agreement check.

    OMP_NUM_THREADS=1 /usr/bin/python3 bench/peers/torch_conv.py --spec .bench-cache/conv-layers/spec.json \
        --threads 1 --reps 20 --max-ms 2000 --result out.json --outdir .bench-cache/conv-layers/out/torch

Debian's torch dispatches most of these convs to oneDNN (mkldnn). A 1x1 stride-1 conv at batch 1
on one thread goes to its im2col + BLAS path instead, and Debian links the reference BLAS: run
with OpenBLAS preloaded (bench/peers/openblas.sh; bench/conv-layers.ts does this). To compare
against PyTorch at its best, each layer is timed three ways and the fastest median is kept:
F.conv2d on NCHW tensors (torch's own dispatch), torch.mkldnn_convolution on NCHW (oneDNN
forced), and F.conv2d on channels_last tensors (input and weight converted before timing, as
the tfjs runner gets NHWC input). On NCHW input Debian's oneDNN 2.6 takes a slow path for the
3-channel stems and for depthwise at 112x112 (10-40 ms; channels_last runs them 50-100x
faster). The JSON says which path won ("path") and which BLAS was loaded.
--paths default keeps plain F.conv2d only.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--spec", required=True)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--reps", type=int, default=20)
p.add_argument("--max-ms", type=float, default=2000)
p.add_argument("--min-reps", type=int, default=3)
p.add_argument("--warmup", type=int, default=2)
p.add_argument("--warmup-ms", type=float, default=300)
p.add_argument("--result", required=True)
p.add_argument("--outdir", required=True)
p.add_argument("--paths", default="default,mkldnn,channels_last",
               help="comma list of: default (F.conv2d, NCHW), mkldnn (torch.mkldnn_convolution, NCHW), channels_last (F.conv2d, NHWC memory)")
a = p.parse_args()
torch.set_num_threads(a.threads)
os.makedirs(a.outdir, exist_ok=True)


def blas_loaded():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower()}
        return ", ".join(sorted(os.path.basename(x) + (" (openblas)" if "openblas" in x else "") for x in libs)) or "none"
    except OSError:
        return "unknown"


def measure(run):
    w0 = time.perf_counter()
    for i in range(200):
        run()
        elapsed = (time.perf_counter() - w0) * 1000
        if i == 0 and elapsed > a.max_ms / 4:
            break
        if i + 1 >= a.warmup and elapsed >= a.warmup_ms:
            break
    times = []
    t0 = time.perf_counter()
    while len(times) < a.reps:
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
        if len(times) >= a.min_reps and (time.perf_counter() - t0) * 1000 > a.max_ms:
            break
    times.sort()
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    return {"medianMs": median, "minMs": times[0], "runs": n}


result = {"runner": "torch", "threads": a.threads, "layers": {}, "errors": {}}
with torch.no_grad():
    for l in json.load(open(a.spec)):
        try:
            cin, cout, k, s = l["inC"], l["outC"], l["kernel"], l["size"]
            x = torch.from_numpy(np.fromfile(os.path.join(l["dir"], "x.bin"), dtype="<f4").reshape(1, cin, s, s))
            w = torch.from_numpy(np.fromfile(os.path.join(l["dir"], "w.bin"), dtype="<f4").reshape(cout, cin // l["groups"], k, k))
            b = torch.from_numpy(np.fromfile(os.path.join(l["dir"], "b.bin"), dtype="<f4"))
            st, pd, g = [l["stride"]] * 2, [l["pad"]] * 2, l["groups"]
            xl = x.contiguous(memory_format=torch.channels_last)
            wl = w.contiguous(memory_format=torch.channels_last)
            runs = {
                "default": lambda: F.conv2d(x, w, b, stride=st, padding=pd, groups=g),
                "mkldnn": lambda: torch.mkldnn_convolution(x, w, b, pd, st, [1, 1], g),
                "channels_last": lambda: F.conv2d(xl, wl, b, stride=st, padding=pd, groups=g),
            }
            labels = {"default": "F.conv2d (NCHW)", "mkldnn": "torch.mkldnn_convolution (NCHW)", "channels_last": "F.conv2d (channels_last)"}
            best = None
            for name in a.paths.split(","):
                t = measure(runs[name])
                t["path"] = labels[name]
                if best is None or t["medianMs"] < best[1]["medianMs"]:
                    best = (name, t)
            result["layers"][l["id"]] = best[1]
            runs[best[0]]().contiguous().numpy().astype("<f4").tofile(os.path.join(a.outdir, l["id"] + ".bin"))
        except Exception as e:  # noqa: BLE001 - reported per layer
            result["errors"][l["id"]] = str(e)

result["config"] = (
    f"PyTorch {torch.__version__} (Debian python3-torch), {'fastest of ' + ', '.join(a.paths.split(',')) + ' per layer' if ',' in a.paths else a.paths} under no_grad, oneDNN {'on' if torch.backends.mkldnn.is_available() else 'off'}, "
    f"torch.set_num_threads({a.threads}), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, BLAS: {blas_loaded()}"
)
with open(a.result, "w") as f:
    json.dump(result, f, indent=2)
