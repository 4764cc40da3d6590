#!/usr/bin/env python3
"""PyTorch peer for bench/train-throughput.ts: trains the same canonical CNN (same widths,
batch, input) on random data and prints one JSON line with images/s. Debian python3-torch.

    /usr/bin/python3 bench/torch_train.py --widths 32,64,128 --batch 128 --threads 1
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument("--widths", default="32,64,128")
p.add_argument("--per-stage", type=int, default=2)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--size", type=int, default=28)
p.add_argument("--channels", type=int, default=1)
p.add_argument("--threads", type=int, default=1)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--warmup", type=int, default=3)
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(0)
widths = [int(w) for w in a.widths.split(",")]
layers, ch = [], a.channels
for stage, w in enumerate(widths):
    if stage:
        layers.append(nn.MaxPool2d(2))
    for _ in range(a.per_stage):
        layers += [nn.Conv2d(ch, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        ch = w
layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(ch, 10)]
model = nn.Sequential(*layers)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
x = torch.randn(a.batch, a.channels, a.size, a.size)
y = torch.randint(0, 10, (a.batch,))


def step():
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


for _ in range(a.warmup):
    step()
times = []
for _ in range(a.steps):
    t = time.perf_counter()
    step()
    times.append(time.perf_counter() - t)
times.sort()
median = times[len(times) // 2]
print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "threads": a.threads, "batch": a.batch, "median_step_s": median, "images_per_s": a.batch / median}))
