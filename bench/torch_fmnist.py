#!/usr/bin/env python3
"""PyTorch reference for `fovea train --dataset fashion-mnist`: the same canonical CNN, the same
recipe (SGD Nesterov, warmup + per-step cosine, weight decay on every parameter, batch 128,
drop-last, normalisation 0.2860/0.3530), on Debian's dataset-fashion-mnist. Prints one JSON line
per epoch with test accuracy and wall time, for time-to-accuracy comparisons.

    /usr/bin/python3 bench/torch_fmnist.py --widths 16,32,64 --epochs 6 --lr 0.1 --threads 1
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers"))
from fmnist_torch import canonical_cnn, load, warmup_cosine  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--widths", default="16,32,64")
p.add_argument("--per-stage", type=int, default=2)
p.add_argument("--epochs", type=int, default=6)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--wd", type=float, default=5e-4)
p.add_argument("--warmup-epochs", type=float, default=0.3)
p.add_argument("--label-smoothing", type=float, default=0.0)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

xtr, ytr, xte, yte = load(a.data)
model = canonical_cnn([int(w) for w in a.widths.split(",")], a.per_stage)
opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, nesterov=True, weight_decay=a.wd)
steps_per_epoch = len(xtr) // a.batch
total = a.epochs * steps_per_epoch
warmup = min(round(a.warmup_epochs * steps_per_epoch), total - 1)
lr_at = warmup_cosine(a.lr, warmup, total)

step, t0 = 0, time.time()
for epoch in range(a.epochs):
    model.train()
    perm = torch.randperm(len(xtr))
    for b in range(steps_per_epoch):
        i = perm[b * a.batch:(b + 1) * a.batch]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad()
        F.cross_entropy(model(xtr[i]), ytr[i], label_smoothing=a.label_smoothing).backward()
        opt.step()
        step += 1
    model.eval()
    with torch.no_grad():
        correct = sum((model(xte[j:j + 1000]).argmax(1) == yte[j:j + 1000]).sum().item() for j in range(0, len(xte), 1000))
    print(json.dumps({"epoch": epoch + 1, "test_accuracy": correct / len(xte), "elapsed_s": round(time.time() - t0, 1)}), flush=True)
