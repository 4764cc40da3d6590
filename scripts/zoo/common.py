"""Shared helpers for the model-zoo fixtures: seeded randomisation of every statistic and
affine parameter (so no layer is an identity) and a dependency-free safetensors writer."""
import json
import struct

import torch
import torch.nn as nn

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def randomise(model, seed):
    """Randomises BatchNorm running statistics and affine parameters, LayerNorm affine
    parameters and ConvNeXt layer scales, deterministically from `seed`."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
            elif isinstance(m, nn.LayerNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
            if hasattr(m, "layer_scale") and isinstance(m.layer_scale, torch.Tensor):
                m.layer_scale.copy_(torch.rand(m.layer_scale.shape, generator=g) * 0.5 + 0.25)
    return model


def write_safetensors(path, tensors, metadata=None, float_dtype=torch.float32):
    """Writes {name: tensor} in safetensors layout; floating tensors are stored as float_dtype,
    except the fixture's own `__input__`/`__output__`, which stay float32."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.is_floating_point():
            t = t.to(torch.float32 if name.startswith("__") else float_dtype)
        elif t.dtype != torch.int64:
            t = t.to(torch.int64)
        if t.dtype == torch.bfloat16:
            data = t.view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
