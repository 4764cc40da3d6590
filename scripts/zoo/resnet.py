"""ResNet family cases: torchvision's ResNet with its stem and stages rebuilt at reduced width
through ResNet._make_layer (torchvision hard-codes the 64/128/256/512 stage widths), so the
blocks and the forward pass are torchvision's own."""
import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def reduced(block, layers, widths, stem_width, groups=1, width_per_group=64, num_classes=10):
    def build():
        model = ResNet(BLOCKS[block], layers, num_classes=num_classes, groups=groups, width_per_group=width_per_group)
        model.inplanes = stem_width
        model.conv1 = nn.Conv2d(3, stem_width, kernel_size=7, stride=2, padding=3, bias=False)
        model.bn1 = nn.BatchNorm2d(stem_width)
        for i, (planes, blocks) in enumerate(zip(widths, layers)):
            setattr(model, f"layer{i + 1}", model._make_layer(BLOCKS[block], planes, blocks, stride=1 if i == 0 else 2))
        model.fc = nn.Linear(widths[-1] * BLOCKS[block].expansion, num_classes)
        return model

    options = {"block": block, "layers": layers, "widths": widths, "stemWidth": stem_width, "groups": groups, "widthPerGroup": width_per_group, "numClasses": num_classes}
    return build, options


def case(name, fovea, input_shape, dtype=None, **config):
    build, options = reduced(**config)
    c = {"case": name, "build": build, "fovea": fovea, "options": options, "input": input_shape}
    if dtype is not None:
        c["dtype"] = dtype
    return c


SMALL = [
    # Two blocks in the first stage: an identity shortcut as well as projections.
    case("resnet-basic", "resnet18", (2, 3, 64, 64), block="basic", layers=[2, 1, 1, 1], widths=[8, 16, 24, 32], stem_width=8),
    # stem 16 != 4 x 8: the first stage projects at stride 1.
    case("resnet-bottleneck", "resnet50", (2, 3, 64, 64), block="bottleneck", layers=[1, 2, 1, 1], widths=[8, 16, 16, 24], stem_width=16),
    case("resnet-resnext", "resnext50_32x4d", (2, 3, 48, 48), block="bottleneck", layers=[1, 1, 1, 1], widths=[16, 16, 32, 32], stem_width=16, groups=4, width_per_group=8),
    case("resnet-wide-f16", "wide_resnet50_2", (2, 3, 48, 48), dtype=torch.float16, block="bottleneck", layers=[1, 1, 1, 1], widths=[8, 8, 16, 16], stem_width=8, width_per_group=128),
]

FULL = {
    name: (lambda name=name: (getattr(torchvision.models, name)(), 224))
    for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "wide_resnet50_2", "wide_resnet101_2", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d"]
}
