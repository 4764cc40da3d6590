"""ShuffleNetV2 parity cases, built with torchvision's own classes."""
import torchvision.models as tvm
from torchvision.models.shufflenetv2 import ShuffleNetV2

SMALL = [
    {
        # Two units in stage2 so a stride-1 (split + shuffle) unit runs as well as stride-2 ones.
        "case": "shufflenet-v2",
        "build": lambda: ShuffleNetV2([2, 1, 1], [8, 16, 32, 64, 128], num_classes=10),
        "fovea": "shufflenet_v2_x1_0",
        "options": {"numClasses": 10, "stagesRepeats": [2, 1, 1], "stagesOutChannels": [8, 16, 32, 64, 128]},
        "input": (2, 3, 32, 32),
    },
]

FULL = {name: (lambda name=name: (getattr(tvm, name)(), 224)) for name in ["shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0"]}
