#!/usr/bin/env python3
"""PyTorch twin of bench/webgpu-fmnist.ts on the GPU (the CPU when there is none): the canonical
CNN (stages of two conv3x3-BN-ReLU, 2x2 max-pool between stages, global average pool, linear;
convs kaiming-normal fan_out, no bias) trained on Fashion-MNIST with fovea's recipe: SGD with
Nesterov momentum, weight decay on every parameter, linear warmup then per-step cosine to 0 over
--epochs, batch --batch with the last partial batch dropped, inputs (x/255 - 0.2860)/0.3530.
The same model and schedule as bench/torch_fmnist.py (both from peers/fmnist_torch.py), with the data on the device and a stop at
the target accuracy.

Evaluates on the 10,000 test images after every epoch and stops at --target accuracy, after
--epochs, or once --max-seconds have passed (checked every 16 steps; the model is then evaluated
once more). Before the clock starts the GPU runs matrix products for --warmup-ms, so that its
clock is up (the H100 idles at 345 MHz); the time to the target then includes everything else
(cuDNN's first calls included). Steady-state images/s: training images per second of training
time after the run's first 32 steps, evaluation excluded (synchronised at step 32 and at the end
of each epoch). The training loss and accuracy are summed on the device each step, as fovea does.

Modes (--modes, comma-separated): fp32 (TF32 off: like-for-like with fovea's float32 WGSL),
tf32, bf16 (autocast around the forward pass, as fovea's float16 autocast). Progress goes to
stderr; stdout's last line is one JSON object with a result per mode.

    python3 bench/peers/torch_fmnist_gpu.py --data DIR [--widths 32,64,128] [--modes fp32,tf32,bf16]
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fmnist_torch import canonical_cnn, load, warmup_cosine  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
p.add_argument("--widths", default="32,64,128")
p.add_argument("--per-stage", type=int, default=2)
p.add_argument("--epochs", type=int, default=10)
p.add_argument("--batch", type=int, default=128)
p.add_argument("--lr", type=float, default=0.1)
p.add_argument("--momentum", type=float, default=0.9)
p.add_argument("--wd", type=float, default=5e-4)
p.add_argument("--warmup-epochs", type=float, default=0.3)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--target", type=float, default=0.92)
p.add_argument("--max-seconds", type=float, default=120)
p.add_argument("--warmup-ms", type=float, default=500)
p.add_argument("--modes", default="fp32")
p.add_argument("--limit-train", type=int, default=0)
p.add_argument("--limit-test", type=int, default=0)
p.add_argument("--threads", type=int, default=0, help="CPU threads when there is no GPU (0: torch's default)")
a = p.parse_args()

cuda = torch.cuda.is_available()
dev = "cuda" if cuda else "cpu"
if a.threads:
    torch.set_num_threads(a.threads)
sync = torch.cuda.synchronize if cuda else (lambda: None)
device_name = torch.cuda.get_device_name() if cuda else "cpu"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


xtr, ytr, xte, yte = load(a.data)
if a.limit_train:
    xtr, ytr = xtr[:a.limit_train], ytr[:a.limit_train]
if a.limit_test:
    xte, yte = xte[:a.limit_test], yte[:a.limit_test]
xtr, ytr, xte, yte = xtr.to(dev), ytr.to(dev), xte.to(dev), yte.to(dev)
widths = [int(w) for w in a.widths.split(",")]


def make_model():
    return canonical_cnn(widths, a.per_stage).to(dev)


def warm_clock(ms):
    if not cuda:
        return
    m = torch.randn(2048, 2048, device=dev)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < ms / 1000:
        for _ in range(8):
            m @ m
        sync()


def evaluate(model, ctx):
    model.eval()
    correct = 0
    with torch.no_grad(), ctx():
        for j in range(0, len(xte), 1000):
            correct += (model(xte[j:j + 1000]).argmax(1) == yte[j:j + 1000]).sum().item()
    model.train()
    return correct / len(xte)


def run(mode):
    tf32 = mode == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    if mode == "bf16":
        ctx = lambda: torch.autocast(dev, dtype=torch.bfloat16)
    else:
        ctx = lambda: torch.autocast(dev, enabled=False)
    torch.manual_seed(a.seed)
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum, nesterov=a.momentum > 0, weight_decay=a.wd)
    steps_per_epoch = len(xtr) // a.batch
    total = a.epochs * steps_per_epoch
    warmup = min(round(a.warmup_epochs * steps_per_epoch), total - 1)

    lr_at = warmup_cosine(a.lr, warmup, total)

    warm_clock(a.warmup_ms)
    epochs, step, t0 = [], 0, time.perf_counter()
    steady_images, steady_seconds, steady_from = 0, 0.0, None
    time_to_target, capped = None, False
    for epoch in range(a.epochs):
        e0 = time.perf_counter()
        perm = torch.randperm(len(xtr), device=dev)
        loss_sum = torch.zeros((), device=dev)
        correct_sum = torch.zeros((), device=dev, dtype=torch.int64)
        seen = 0
        for b in range(steps_per_epoch):
            i = perm[b * a.batch:(b + 1) * a.batch]
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            opt.zero_grad(set_to_none=True)
            with ctx():
                logits = model(xtr[i])
                loss = F.cross_entropy(logits, ytr[i])
            loss.backward()
            opt.step()
            loss_sum += loss.detach().float() * len(i)
            correct_sum += (logits.detach().argmax(1) == ytr[i]).sum()
            seen += len(i)
            step += 1
            if step == 32 and steady_from is None:
                sync()
                steady_from = (time.perf_counter(), seen, epoch)
            if step % 16 == 0 and time.perf_counter() - t0 > a.max_seconds:
                capped = True
                break
        sync()
        e1 = time.perf_counter()
        if steady_from is not None:
            start_t, start_seen, start_epoch = steady_from if steady_from[2] == epoch else (e0, 0, epoch)
            steady_images += seen - start_seen
            steady_seconds += e1 - start_t
        acc = evaluate(model, ctx)
        elapsed = time.perf_counter() - t0
        rec = {"epoch": epoch + 1, "steps": step, "train_loss": loss_sum.item() / max(seen, 1), "train_accuracy": correct_sum.item() / max(seen, 1),
               "test_accuracy": acc, "images_per_second": seen / (e1 - e0), "train_seconds": e1 - e0, "eval_seconds": elapsed - (e1 - t0), "elapsed_seconds": elapsed, "partial": capped}
        epochs.append(rec)
        log(f"torch {mode}: epoch {epoch + 1}{' (capped)' if capped else ''}: test acc {100 * acc:.2f}%, {rec['images_per_second']:.0f} img/s, {elapsed:.1f} s elapsed")
        if acc >= a.target and time_to_target is None:
            time_to_target = elapsed
            break
        if capped:
            break
    return {"runner": f"torch {torch.__version__} {device_name} {'fp32 (TF32 off)' if mode == 'fp32' else 'TF32' if mode == 'tf32' else 'bf16 autocast'}", "mode": mode,
            "images_per_second_steady": steady_images / steady_seconds if steady_images > 0 and steady_seconds > 0 else None, "time_to_target_seconds": time_to_target,
            "target": a.target, "best_test_accuracy": max(e["test_accuracy"] for e in epochs), "epochs": epochs, "capped": capped,
            "wall_seconds": time.perf_counter() - t0}


results = []
for mode in a.modes.split(","):
    if mode not in ("fp32", "tf32", "bf16"):
        raise SystemExit(f"--modes: fp32, tf32 or bf16, got '{mode}'")
    if mode != "fp32" and not cuda:
        log(f"torch {mode}: skipped on the CPU")
        continue
    results.append(run(mode))
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = True
print(json.dumps({"device": device_name, "torch": torch.__version__, "widths": widths, "batch": a.batch, "lr": a.lr, "epochs": a.epochs,
                  "warmup_epochs": a.warmup_epochs, "weight_decay": a.wd, "momentum": a.momentum, "train_images": len(xtr), "test_images": len(xte), "results": results}))
