"""EfficientNet B and V2 cases: torchvision's own EfficientNet class with MBConvConfig /
FusedMBConvConfig rows at reduced widths and depths, and the fovea options that describe
the same network."""
from functools import partial

import torch
import torch.nn as nn
from torchvision import models
from torchvision.models.efficientnet import EfficientNet, FusedMBConvConfig, MBConvConfig

# torchvision's EfficientNet-B stage table: expand ratio, kernel, stride, in, out, layers.
B_ROWS = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]


def stage(block, row):
    e, k, s, i, o, n = row
    return {"block": block, "expandRatio": e, "kernel": k, "stride": s, "inChannels": i, "outChannels": o, "layers": n}


# Expand 1 and 6 (and 4), kernels 3 and 5, strides 1 and 2; width 0.5 and depth 0.6 round
# 1/2/3/1 layers to 1/2/2/1 and the last stage keeps its channels at stride 1 (residual first block).
B_SMALL_ROWS = [
    (1, 3, 1, 32, 16, 1),
    (6, 5, 2, 16, 24, 2),
    (6, 3, 2, 24, 40, 3),
    (4, 5, 1, 40, 40, 1),
]


def b_small():
    setting = [MBConvConfig(*row, width_mult=0.5, depth_mult=0.6) for row in B_SMALL_ROWS]
    return EfficientNet(setting, dropout=0.2, num_classes=10)


def b7_tiny():
    # B7's own stage table and batch-norm settings (eps 1e-3) at width 1/8 and depth 0.35.
    setting = [MBConvConfig(*row, width_mult=0.125, depth_mult=0.35) for row in B_ROWS]
    return EfficientNet(setting, dropout=0.5, num_classes=10, norm_layer=partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))


# Fused blocks with and without expansion (the unexpanded stage is residual), then MBConv.
V2_SMALL_ROWS = [
    ("fused", (1, 3, 1, 8, 8, 2)),
    ("fused", (4, 3, 2, 8, 16, 2)),
    ("mbconv", (4, 3, 2, 16, 24, 2)),
    ("mbconv", (6, 5, 1, 24, 32, 1)),
]


def v2_small():
    setting = [FusedMBConvConfig(*row) if block == "fused" else MBConvConfig(*row) for block, row in V2_SMALL_ROWS]
    return EfficientNet(setting, dropout=0.2, num_classes=10, last_channel=64, norm_layer=partial(nn.BatchNorm2d, eps=1e-03))


SMALL = [
    {
        "case": "efficientnet-b-small",
        "build": b_small,
        "fovea": "efficientnet_b0",
        "options": {"blocks": [stage("mbconv", r) for r in B_SMALL_ROWS], "widthMult": 0.5, "depthMult": 0.6, "numClasses": 10},
        "input": (2, 3, 48, 48),
    },
    {
        "case": "efficientnet-b7-tiny-f16",
        "build": b7_tiny,
        "fovea": "efficientnet_b7",
        "options": {"widthMult": 0.125, "depthMult": 0.35, "numClasses": 10},
        "input": (2, 3, 64, 64),
        "dtype": torch.float16,
    },
    {
        "case": "efficientnet-v2-small",
        "build": v2_small,
        "fovea": "efficientnet_v2_s",
        "options": {"blocks": [stage(block, r) for block, r in V2_SMALL_ROWS], "lastChannel": 64, "numClasses": 10},
        "input": (2, 3, 48, 48),
    },
]

CROP = {
    "efficientnet_b0": 224, "efficientnet_b1": 240, "efficientnet_b2": 288, "efficientnet_b3": 300,
    "efficientnet_b4": 380, "efficientnet_b5": 456, "efficientnet_b6": 528, "efficientnet_b7": 600,
    "efficientnet_v2_s": 384, "efficientnet_v2_m": 480, "efficientnet_v2_l": 480,
}

FULL = {name: (lambda name=name, size=size: (getattr(models, name)(), size)) for name, size in CROP.items()}
