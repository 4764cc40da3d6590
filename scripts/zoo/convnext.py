"""ConvNeXt parity cases, built with torchvision's own classes."""
import torchvision.models as tvm
from torchvision.models.convnext import CNBlockConfig, ConvNeXt

STAGES = [(8, 16, 2), (16, 32, 1), (32, None, 1)]

SMALL = [
    {
        # Stem, three stages with two downsamplings, layer scales randomised by common.randomise.
        "case": "convnext",
        "build": lambda: ConvNeXt([CNBlockConfig(*s) for s in STAGES], stochastic_depth_prob=0.2, layer_scale=0.5, num_classes=10),
        "fovea": "convnext_tiny",
        "options": {
            "numClasses": 10,
            "blockSetting": [{"inChannels": i, "outChannels": o, "numLayers": n} for i, o, n in STAGES],
            "stochasticDepthProb": 0.2,
            "layerScale": 0.5,
        },
        "input": (2, 3, 32, 32),
    },
]

FULL = {name: (lambda name=name: (getattr(tvm, name)(), 224)) for name in ["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"]}
