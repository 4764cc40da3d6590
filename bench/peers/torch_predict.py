#!/usr/bin/env python3
"""PyTorch half of bench/verify-predict.ts: writes seeded random weights for a torchvision
classifier (once; BatchNorm statistics and affine parameters randomised as in the zoo fixtures, the
classifier scaled to keep softmax away from saturation)
and classifies an image the way a PyTorch user does: PIL decode, the weights' own transform
(torchvision's ImageClassification: Resize(256, bilinear) + CenterCrop(224) + rescale +
Normalize for resnet50), eval-mode forward, softmax. Prints one JSON line.

    /usr/bin/python3 bench/peers/torch_predict.py --model resnet50 --image test/fixtures/images/cat.jpg \
        --weights .bench-cache/verify-predict/resnet50-seed0.safetensors --seed 0 --top 5
"""
import argparse
import json
import os
import sys

import torch
import torchvision
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from zoo.common import randomise, write_safetensors  # noqa: E402

# The weights enum of each model, for its evaluation transform.
WEIGHTS = {"resnet50": "ResNet50_Weights", "resnet18": "ResNet18_Weights", "mobilenet_v2": "MobileNet_V2_Weights", "convnext_tiny": "ConvNeXt_Tiny_Weights"}

p = argparse.ArgumentParser()
p.add_argument("--model", default="resnet50")
p.add_argument("--image", required=True)
p.add_argument("--weights", required=True)
p.add_argument("--seed", type=int, default=0)
p.add_argument("--top", type=int, default=5)
args = p.parse_args()

# Construction and randomisation are deterministic given the seed, so the model in memory equals
# the file even when the file is from an earlier run (its name carries model and seed).
torch.manual_seed(args.seed)
model = randomise(getattr(torchvision.models, args.model)(), args.seed).eval()
# With randomised statistics the logits reach the hundreds and softmax saturates to one class
# and exact zeros, which leaves the rest of a top-5 to ties. Scaling the classifier so the
# logits of a seeded N(0, 1) input have standard deviation 3 keeps five distinct probabilities.
head = model.fc if hasattr(model, "fc") else model.classifier[-1]
with torch.no_grad():
    std = model(torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(args.seed + 1))).std()
    head.weight.mul_(3 / std)
    head.bias.mul_(3 / std)
if not os.path.exists(args.weights):
    os.makedirs(os.path.dirname(os.path.abspath(args.weights)), exist_ok=True)
    write_safetensors(args.weights, model.state_dict(), {"model": args.model, "seed": args.seed, "generator": "bench/peers/torch_predict.py"})
transform = getattr(torchvision.models, WEIGHTS[args.model]).IMAGENET1K_V1.transforms()
x = transform(Image.open(args.image).convert("RGB")).unsqueeze(0)
with torch.no_grad():
    probs = torch.softmax(model(x), dim=1)[0]
values, indices = probs.topk(args.top)
print(json.dumps({
    "torch": torch.__version__,
    "torchvision": torchvision.__version__,
    "transform": repr(transform).replace("\n", " "),
    "top": [{"index": int(i), "probability": float(v)} for v, i in zip(values, indices)],
}))
