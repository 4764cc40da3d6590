#!/usr/bin/env python3
"""Writes test/fixtures/torch-parity.safetensors: PyTorch reference outputs and gradients that
the fovea tests compare against. Needs Debian's python3-torch and python3-torchvision:

    apt-get install python3-torch python3-torchvision
    /usr/bin/python3 scripts/make-fixtures.py

Every case stores its inputs, parameters, outputs and gradients under `<case>.<name>`; the
upstream gradient of each output is stored as `<case>.dy` (the tests backpropagate the same
one). Seeds are fixed so the file is reproducible."""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo.common import write_safetensors  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
tensors = {}


def put(name, t):
    tensors[name] = t.detach().contiguous().clone()


def grads_case(name, fn, inputs, params=None):
    """Forward fn(*inputs), backprop a random dy, store inputs, output, dy and input grads."""
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*leaves)
    dy = torch.randn_like(out)
    out.backward(dy)
    for i, x in enumerate(leaves):
        put(f"{name}.in{i}", x)
        put(f"{name}.grad{i}", x.grad)
    put(f"{name}.out", out)
    put(f"{name}.dy", dy)
    if params:
        put(f"{name}.params", torch.tensor([float(p) for p in params]))


# --- conv2d: (N, C, H, W), (O, C/g, kh, kw), stride, padding, dilation, groups
conv_cases = [
    ("conv_basic", (2, 3, 9, 8), (4, 3, 3, 3), 1, 1, 1, 1),
    ("conv_stride2", (1, 4, 11, 10), (6, 4, 3, 3), 2, 1, 1, 1),
    ("conv_dilated", (1, 3, 12, 12), (5, 3, 3, 3), 1, 2, 2, 1),
    ("conv_groups", (2, 6, 7, 7), (9, 2, 3, 3), 1, 1, 1, 3),
    ("conv_depthwise", (2, 8, 9, 9), (8, 1, 3, 3), 2, 1, 1, 8),
    ("conv_7x7_stem", (1, 3, 23, 23), (8, 3, 7, 7), 2, 3, 1, 1),
    ("conv_1x1", (3, 16, 5, 5), (8, 16, 1, 1), 1, 0, 1, 1),
]
for name, xs, ws, s, p, d, g in conv_cases:
    grads_case(name, lambda x, w, b, s=s, p=p, d=d, g=g: F.conv2d(x, w, b, s, p, d, g),
               [torch.randn(xs), torch.randn(ws) * 0.3, torch.randn(ws[0])], [s, p, d, g])

# --- pooling: kernel, stride, padding, ceil_mode
for name, k, s, p, ceil in [("maxpool_2", 2, 2, 0, False), ("maxpool_3s2p1", 3, 2, 1, False), ("maxpool_ceil", 3, 2, 0, True)]:
    grads_case(name, lambda x, k=k, s=s, p=p, c=ceil: F.max_pool2d(x, k, s, p, ceil_mode=c), [torch.randn(2, 3, 11, 10)], [k, s, p, int(ceil)])
for name, k, s, p, ceil, cip in [("avgpool_2", 2, 2, 0, False, True), ("avgpool_3s2p1", 3, 2, 1, False, True),
                                 ("avgpool_nopad", 3, 2, 1, False, False), ("avgpool_ceil", 3, 2, 1, True, True)]:
    grads_case(name, lambda x, k=k, s=s, p=p, c=ceil, i=cip: F.avg_pool2d(x, k, s, p, ceil_mode=c, count_include_pad=i),
               [torch.randn(2, 3, 11, 10)], [k, s, p, int(ceil), int(cip)])

# --- activations
x = torch.randn(4, 33) * 4
for name, fn in [("relu", F.relu), ("relu6", F.relu6), ("silu", F.silu), ("gelu", F.gelu), ("hardswish", F.hardswish),
                 ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("softmax", lambda t: F.softmax(t, 1)),
                 ("log_softmax", lambda t: F.log_softmax(t, 1))]:
    grads_case(f"act_{name}", fn, [x])

# --- linear
grads_case("linear", lambda a, w, b: F.linear(a, w, b), [torch.randn(5, 7), torch.randn(3, 7), torch.randn(3)])

# --- batch norm, training mode, with running statistics
bn = nn.BatchNorm2d(5, momentum=0.1)
with torch.no_grad():
    bn.weight.copy_(torch.rand(5) + 0.5)
    bn.bias.copy_(torch.randn(5))
    bn.running_mean.copy_(torch.randn(5))
    bn.running_var.copy_(torch.rand(5) + 0.5)
put("bn_train.running_mean_before", bn.running_mean)
put("bn_train.running_var_before", bn.running_var)
xb = (torch.randn(4, 5, 6, 7) * 2 + 1).requires_grad_(True)
yb = bn(xb)
dyb = torch.randn_like(yb)
yb.backward(dyb)
put("bn_train.in0", xb)
put("bn_train.weight", bn.weight)
put("bn_train.bias", bn.bias)
put("bn_train.out", yb)
put("bn_train.dy", dyb)
put("bn_train.grad0", xb.grad)
put("bn_train.grad_weight", bn.weight.grad)
put("bn_train.grad_bias", bn.bias.grad)
put("bn_train.running_mean_after", bn.running_mean)
put("bn_train.running_var_after", bn.running_var)

# --- cross-entropy: hard labels with label smoothing, and soft targets
logits = torch.randn(6, 5)
labels = torch.tensor([0, 4, 2, 2, 1, 3])
grads_case("ce_smooth", lambda z: F.cross_entropy(z, labels, label_smoothing=0.1), [logits])
put("ce_smooth.labels", labels.to(torch.int64))
soft = F.softmax(torch.randn(6, 5), 1)
grads_case("ce_soft", lambda z: F.cross_entropy(z, soft), [logits])
put("ce_soft.target", soft)


# --- models with the same parameter names as fovea's
def randomise(model):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                m.num_batches_tracked.fill_(7)


def canonical_cnn(in_ch, widths, per_stage, classes):
    layers, ch = [], in_ch
    for stage, w in enumerate(widths):
        if stage > 0:
            layers.append(nn.MaxPool2d(2))
        for _ in range(per_stage):
            layers += [nn.Conv2d(ch, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
            ch = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(1)]
    model = nn.Module()
    model.features = nn.Sequential(*layers)
    model.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(ch, classes))
    model.forward = lambda x: model.classifier(model.features(x))
    return model


class ResNetCifar(nn.Module):
    def __init__(self, in_ch, n, widths, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        inplanes = widths[0]
        for stage, w in enumerate(widths):
            blocks = []
            for i in range(n):
                stride = 2 if i == 0 and stage > 0 else 1
                down = None
                if stride != 1 or inplanes != w:
                    down = nn.Sequential(nn.Conv2d(inplanes, w, 1, stride, bias=False), nn.BatchNorm2d(w))
                blocks.append(BasicBlock(inplanes, w, stride, down))
                inplanes = w
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def model_case(name, model, x):
    randomise(model)
    for k, v in model.state_dict().items():
        put(f"{name}.state.{k}", v)
    model.eval()
    with torch.no_grad():
        put(f"{name}.eval_out", model(x))
    model.train()
    put(f"{name}.input", x)
    labels = torch.arange(x.shape[0]) % 10
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    put(f"{name}.train_loss", loss.reshape(1))
    put(f"{name}.labels", labels)
    for k, p in model.named_parameters():
        put(f"{name}.grad.{k}", p.grad)
    for k, v in model.state_dict().items():
        if "running" in k:
            put(f"{name}.after.{k}", v)


model_case("canonical_cnn", canonical_cnn(3, [4, 8, 12], 2, 10), torch.randn(3, 3, 16, 16))
model_case("resnet8_cifar", ResNetCifar(3, 1, [4, 8, 16], 10), torch.randn(2, 3, 16, 16))

# --- optimisers: two steps on a fixed parameter with fixed gradients
p0 = torch.randn(7)
g1, g2 = torch.randn(7), torch.randn(7)
for name, make in [("sgd_nesterov", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
                   ("sgd_plain", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01)),
                   ("adamw", lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1))]:
    p = p0.clone().requires_grad_(True)
    opt = make([p])
    for g in (g1, g2):
        p.grad = g.clone()
        opt.step()
    put(f"optim_{name}.after", p)
put("optim.p0", p0)
put("optim.g1", g1)
put("optim.g2", g2)


out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch-parity.safetensors")
write_safetensors(out, tensors, {"generator": "scripts/make-fixtures.py", "torch": torch.__version__})
print(f"wrote {len(tensors)} tensors to {os.path.relpath(out)}", file=sys.stderr)
