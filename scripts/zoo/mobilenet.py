"""MobileNetV2 and MobileNetV3 (Small, Large) parity cases, built with torchvision's own classes."""
import torch
import torchvision.models as tvm
from torchvision.models.mobilenetv2 import MobileNetV2
from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf

V2_STAGES = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 1, 2]]


def mobilenet_v3(arch, **conf):
    setting, last_channel = _mobilenet_v3_conf(arch, **conf)
    return MobileNetV3(setting, last_channel, num_classes=10)


SMALL = [
    {
        # Expansion 1 and 6, a residual block, widths scaled down and rounded to multiples of 8.
        "case": "mobilenet-v2",
        "build": lambda: MobileNetV2(num_classes=10, width_mult=0.25, inverted_residual_setting=V2_STAGES),
        "fovea": "mobilenet_v2",
        "options": {"numClasses": 10, "widthMult": 0.25, "invertedResidualSetting": V2_STAGES},
        "input": (2, 3, 32, 32),
    },
    {
        # Every block of the published table: SE in the first block, ReLU and hard-swish blocks.
        "case": "mobilenet-v3-small",
        "build": lambda: mobilenet_v3("mobilenet_v3_small", width_mult=0.25),
        "fovea": "mobilenet_v3_small",
        "options": {"numClasses": 10, "widthMult": 0.25},
        "input": (2, 3, 32, 32),
    },
    {
        # The segmentation-backbone variant (halved, dilated last stage), stored as bfloat16.
        "case": "mobilenet-v3-large-bf16",
        "build": lambda: mobilenet_v3("mobilenet_v3_large", width_mult=0.25, reduced_tail=True, dilated=True),
        "fovea": "mobilenet_v3_large",
        "options": {"numClasses": 10, "widthMult": 0.25, "reducedTail": True, "dilated": True},
        "input": (2, 3, 32, 32),
        "dtype": torch.bfloat16,
    },
]

FULL = {
    "mobilenet_v2": lambda: (tvm.mobilenet_v2(), 224),
    "mobilenet_v3_small": lambda: (tvm.mobilenet_v3_small(), 224),
    "mobilenet_v3_large": lambda: (tvm.mobilenet_v3_large(), 224),
}
