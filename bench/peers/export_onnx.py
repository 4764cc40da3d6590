#!/usr/bin/env python3
"""Writes the networks of bench/e2e-inference.ts once: torchvision's resnet50 / mobilenet_v2
built with seeded random weights (BatchNorm running statistics and affine parameters
randomised, as scripts/make-zoo-fixtures.py does), in eval mode, as

    .bench-cache/e2e/<model>.safetensors     torchvision state dict (fovea, tfjs, PyTorch load it)
    .bench-cache/e2e/<model>.b<N>.onnx       torch.onnx.export, opset 13, static batch N (onnxruntime)
    .bench-cache/e2e/input.bin               float32 NCHW [max(8, max batch), 3, 224, 224], seeded randn
    .bench-cache/e2e/<model>.ref.bin         PyTorch's eval-mode logits on all of input.bin [., 1000]
    .bench-cache/e2e/<model>.json            what was written (seed, torch version, batches)

    /usr/bin/python3 bench/peers/export_onnx.py --models resnet50,mobilenet_v2 --batch 1,8

Files that exist for the same seed and version are kept. Uses Debian's python3-torch and
python3-torchvision; torch.onnx.export needs no `onnx` package, but when it is importable the
exported graphs are checked with onnx.checker.
"""
import argparse
import json
import os
import sys
import warnings

import numpy as np
import torch
import torchvision

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from zoo.common import randomise, write_safetensors  # noqa: E402

warnings.filterwarnings("ignore")
OPSET = 13
SEED = 2024
SIZE = 224
# Bump when the generator changes so cached files are rebuilt.
VERSION = 1
BUILDERS = {"resnet50": torchvision.models.resnet50, "mobilenet_v2": torchvision.models.mobilenet_v2}

p = argparse.ArgumentParser()
p.add_argument("--models", default="resnet50,mobilenet_v2")
p.add_argument("--batch", default="1,8")
p.add_argument("--out", default=os.path.join(ROOT, ".bench-cache", "e2e"))
a = p.parse_args()
batches = sorted({int(b) for b in a.batch.split(",")})
max_batch = max(batches)
os.makedirs(a.out, exist_ok=True)
torch.set_num_threads(1)


def path(name):
    return os.path.join(a.out, name)


# The input: one seeded batch of at least 8 images; a batch of N is its first N rows, so the
# same file (and the weights' stored logits) serve every batch size up to its length.
inp_path = path("input.bin")
inp_meta = path("input.json")
old = json.load(open(inp_meta)) if os.path.exists(inp_meta) and os.path.exists(inp_path) else {}
if old.get("version") == VERSION and old.get("seed") == SEED and old.get("shape", [0])[0] >= max_batch:
    stamp = old
else:
    stamp = {"version": VERSION, "seed": SEED, "shape": [max(8, max_batch), 3, SIZE, SIZE]}
    x = torch.randn(*stamp["shape"], generator=torch.Generator().manual_seed(SEED + 1))
    x.numpy().astype("<f4").tofile(inp_path)
    json.dump(stamp, open(inp_meta, "w"))
    print(f"  wrote {os.path.relpath(inp_path)}", file=sys.stderr)
x = torch.from_numpy(np.fromfile(inp_path, dtype="<f4").reshape(stamp["shape"]))

for name in a.models.split(","):
    if name not in BUILDERS:
        sys.exit(f"unknown model {name}; available: {', '.join(BUILDERS)}")
    meta_path = path(f"{name}.json")
    want = {"version": VERSION, "seed": SEED, "torch": torch.__version__, "torchvision": torchvision.__version__, "input": stamp}
    meta = json.load(open(meta_path)) if os.path.exists(meta_path) else {}
    have = {k: meta.get(k) for k in want}
    files_ok = all(os.path.exists(path(f)) for f in (f"{name}.safetensors", f"{name}.ref.bin"))
    onnx_have = set(meta.get("onnx", [])) if have == want and files_ok else set()
    todo_onnx = [b for b in batches if b not in onnx_have or not os.path.exists(path(f"{name}.b{b}.onnx"))]
    if have == want and files_ok and not todo_onnx:
        continue
    torch.manual_seed(SEED)
    model = BUILDERS[name]()
    randomise(model, SEED)
    model.eval()
    if not (have == want and files_ok):
        with torch.no_grad():
            y = model(x)
        write_safetensors(path(f"{name}.safetensors"), dict(model.state_dict()), {"model": name, "generator": "bench/peers/export_onnx.py", "seed": SEED, "torch": torch.__version__})
        y.numpy().astype("<f4").tofile(path(f"{name}.ref.bin"))
        onnx_have = set()
        todo_onnx = batches
        print(f"  wrote {os.path.relpath(path(name + '.safetensors'))} (logits max |y| {y.abs().max().item():.3g})", file=sys.stderr)
    for b in todo_onnx:
        out = path(f"{name}.b{b}.onnx")
        tmp = out + ".tmp"
        torch.onnx.export(model, torch.zeros(b, 3, SIZE, SIZE), tmp, opset_version=OPSET, input_names=["x"], output_names=["y"], do_constant_folding=True)
        try:
            import onnx
            onnx.checker.check_model(onnx.load(tmp))
        except ImportError:
            pass
        os.replace(tmp, out)
        onnx_have.add(b)
        print(f"  wrote {os.path.relpath(out)}", file=sys.stderr)
    json.dump({**want, "onnx": sorted(onnx_have)}, open(meta_path, "w"), indent=2)
