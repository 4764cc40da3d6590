"""What bench/torch_fmnist.py and bench/peers/torch_fmnist_gpu.py share: fovea's Fashion-MNIST
data preparation, canonical CNN and learning-rate schedule, written once in PyTorch.
"""
import gzip
import math
import os

import numpy as np
import torch
import torch.nn as nn


def idx(path):
    """An IDX file (gzipped or not) as a numpy array."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, base):
    for name in (base + ".gz", base):
        if os.path.exists(os.path.join(data_dir, name)):
            return os.path.join(data_dir, name)
    raise FileNotFoundError(f"{base}[.gz] not in {data_dir}")


def prep(images):
    """fovea's normalisation: (x / 255 - 0.2860) / 0.3530, one channel."""
    return ((torch.from_numpy(images.astype(np.float32)) / 255.0 - 0.2860) / 0.3530).unsqueeze(1)


def load(data_dir):
    """(train images, train labels, test images, test labels) as tensors."""
    def labels(base):
        return torch.from_numpy(idx(find(data_dir, base)).astype(np.int64))
    return (prep(idx(find(data_dir, "train-images-idx3-ubyte"))), labels("train-labels-idx1-ubyte"),
            prep(idx(find(data_dir, "t10k-images-idx3-ubyte"))), labels("t10k-labels-idx1-ubyte"))


def canonical_cnn(widths, per_stage):
    """Stages of conv3x3-BN-ReLU (kaiming-normal fan_out, no bias), 2x2 max-pool between stages,
    global average pool, linear to 10 classes: fovea's canonical-cnn."""
    layers, ch = [], 1
    for stage, w in enumerate(widths):
        if stage:
            layers.append(nn.MaxPool2d(2))
        for _ in range(per_stage):
            conv = nn.Conv2d(ch, w, 3, padding=1, bias=False)
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            layers += [conv, nn.BatchNorm2d(w), nn.ReLU()]
            ch = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(ch, 10)]
    return nn.Sequential(*layers)


def warmup_cosine(lr, warmup, total):
    """fovea's schedule per step: linear warmup over `warmup` steps, then cosine to 0 at `total`."""
    def lr_at(step):
        if step < warmup:
            return lr * (step + 1) / warmup
        return 0.5 * lr * (1 + math.cos(math.pi * min(1, (step - warmup) / (total - warmup))))
    return lr_at
