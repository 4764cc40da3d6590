#!/usr/bin/env python3
"""Writes the model-zoo parity fixtures: for each family, torchvision's own code built at a
reduced width/depth, with seeded random weights (BatchNorm statistics, affine parameters and
layer scales randomised), its state dict, an input batch and PyTorch's eval-mode output.

    apt-get install python3-torch python3-torchvision
    /usr/bin/python3 scripts/make-zoo-fixtures.py            # small ones -> test/fixtures/zoo/
    /usr/bin/python3 scripts/make-zoo-fixtures.py --full resnet50 convnext_tiny
                                                             # full size -> .bench-cache/zoo-full/

Each file holds the state dict under torchvision's keys plus `__input__` and `__output__`;
its metadata names the fovea model (`model`) and the createModel options (`options`, JSON).
Every family lives in scripts/zoo/<family>.py and exposes SMALL (a list of cases) and FULL
(torchvision model names it can build at full size)."""
import argparse
import importlib
import json
import os
import pkgutil
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo.common import randomise, write_safetensors  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def families():
    import zoo
    for info in pkgutil.iter_modules(zoo.__path__):
        if info.name != "common":
            yield importlib.import_module(f"zoo.{info.name}")


def write_case(path, model, fovea_name, options, input_shape, seed, float_dtype=torch.float32):
    torch.manual_seed(seed)
    randomise(model, seed)
    model.eval()
    if float_dtype != torch.float32:
        # The file stores reduced-precision weights; PyTorch computes with the same rounded values.
        with torch.no_grad():
            for t in model.state_dict().values():
                if t.is_floating_point():
                    t.copy_(t.to(float_dtype).float())
    x = torch.randn(*input_shape, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        y = model(x)
    tensors = dict(model.state_dict())
    tensors["__input__"] = x
    tensors["__output__"] = y
    meta = {"model": fovea_name, "options": json.dumps(options), "generator": "scripts/make-zoo-fixtures.py", "torch": torch.__version__}
    write_safetensors(path, tensors, meta, float_dtype)
    print(f"{os.path.relpath(path)}: {sum(t.numel() for k, t in tensors.items() if not k.startswith('__'))} values, output {tuple(y.shape)}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", nargs="*", metavar="MODEL", help="full-size torchvision models to write to .bench-cache/zoo-full/ (none listed: all)")
    parser.add_argument("--batch", type=int, default=2, help="batch size of the full-size inputs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    fams = list(families())
    if args.full is None:
        out_dir = os.path.join(ROOT, "test", "fixtures", "zoo")
        os.makedirs(out_dir, exist_ok=True)
        for fam in fams:
            for i, case in enumerate(fam.SMALL):
                path = os.path.join(out_dir, f"{case['case']}.safetensors")
                write_case(path, case["build"](), case["fovea"], case.get("options", {}), case["input"], seed=1000 + i, float_dtype=case.get("dtype", torch.float32))
        return
    out_dir = os.path.join(ROOT, ".bench-cache", "zoo-full")
    os.makedirs(out_dir, exist_ok=True)
    available = {name: (fam, build) for fam in fams for name, build in fam.FULL.items()}
    wanted = args.full or sorted(available)
    for name in wanted:
        if name not in available:
            sys.exit(f"unknown full-size model {name}; available: {', '.join(sorted(available))}")
        _, build = available[name]
        model, size = build()
        write_case(os.path.join(out_dir, f"{name}.safetensors"), model, name, {}, (args.batch, 3, size, size), seed=7)


if __name__ == "__main__":
    main()
