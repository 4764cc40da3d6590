"""RegNet family cases: torchvision's RegNet class built from BlockParams.from_init_params with
small design parameters, so the width quantisation and every block are torchvision's own."""
from functools import partial

import torch.nn as nn
import torchvision
from torchvision.models.regnet import BlockParams, RegNet


def reduced(depth, w0, wa, wm, group_width, stem_width, se_ratio=None, num_classes=10):
    def build():
        params = BlockParams.from_init_params(depth=depth, w_0=w0, w_a=wa, w_m=wm, group_width=group_width, se_ratio=se_ratio)
        return RegNet(params, num_classes=num_classes, stem_width=stem_width, norm_layer=partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1))

    options = {"depth": depth, "w0": w0, "wa": wa, "wm": wm, "groupWidth": group_width, "stemWidth": stem_width, "numClasses": num_classes}
    if se_ratio is not None:
        options["seRatio"] = se_ratio
    return build, options


def case(name, fovea, input_shape, **config):
    build, options = reduced(**config)
    return {"case": name, "build": build, "fovea": fovea, "options": options, "input": input_shape}


SMALL = [
    # Stages 8/16/32 wide (depths 1, 1, 2) with squeeze-excitation of a quarter of each block's input.
    case("regnet-y", "regnet_y_400mf", (2, 3, 64, 64), depth=4, w0=8, wa=8.0, wm=2.0, group_width=8, stem_width=8, se_ratio=0.25),
    # Group width 12 forces the stage widths to be adjusted to multiples of it.
    case("regnet-x", "regnet_x_400mf", (2, 3, 64, 64), depth=5, w0=16, wa=10.5, wm=1.8, group_width=12, stem_width=16),
]

FULL = {
    name: (lambda name=name: (getattr(torchvision.models, name)(), 224))
    for name in [f"regnet_{kind}_{size}" for kind in "yx" for size in ["400mf", "800mf", "1_6gf", "3_2gf", "8gf", "16gf", "32gf"]]
}
