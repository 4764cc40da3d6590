#!/usr/bin/env python3
"""Writes one single-Conv ONNX model per layer for bench/conv-layers.ts (onnxruntime-node and
onnxruntime-web load them). Weights and bias come from the layer's w.bin / b.bin (raw float32,
OIHW), which bench/conv-layers.ts generates, so every runner computes the same convolution.
Uses Debian's python3-torch (torch.onnx.export; the `onnx` Python package is not needed).

    /usr/bin/python3 bench/peers/make_conv_onnx.py .bench-cache/conv-layers/spec.json

spec.json: a list of {"id", "dir", "inC", "outC", "size", "kernel", "stride", "pad", "groups"}.
A model is rebuilt when model.onnx is missing or older than w.bin.
"""
import json
import os
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
OPSET = 13

for l in json.load(open(sys.argv[1])):
    path = os.path.join(l["dir"], "model.onnx")
    wbin = os.path.join(l["dir"], "w.bin")
    if os.path.exists(path) and os.path.getmtime(path) >= os.path.getmtime(wbin):
        continue
    conv = torch.nn.Conv2d(l["inC"], l["outC"], l["kernel"], stride=l["stride"], padding=l["pad"], groups=l["groups"], bias=True)
    w = np.fromfile(wbin, dtype="<f4").reshape(conv.weight.shape)
    b = np.fromfile(os.path.join(l["dir"], "b.bin"), dtype="<f4")
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
        conv.bias.copy_(torch.from_numpy(b))
    conv.eval()
    x = torch.zeros(1, l["inC"], l["size"], l["size"])
    tmp = path + ".tmp"
    torch.onnx.export(conv, x, tmp, opset_version=OPSET, input_names=["x"], output_names=["y"], do_constant_folding=True)
    os.replace(tmp, path)
    print(f"  wrote {path}", file=sys.stderr)
