#!/usr/bin/env python3
"""Writes the image-preprocessing parity fixtures under test/fixtures/images/:

  cat.jpg                 scikit-image's bundled `chelsea` photo (451x300), JPEG quality 90, 4:2:0
  cat.png                 the pixels PIL decodes from cat.jpg, lossless (so resizing can be
                          checked against PIL bit for bit without depending on a JPEG decoder)
  preprocess.safetensors  what torchvision 0.14 + PIL make of cat.jpg:
      tensors (all [H, W, 3] U8 unless noted; mean/std in the metadata):
      tv_bilinear_256_224      Resize(256, bilinear) + CenterCrop(224)
      tv_bicubic_160_144       Resize(160, bicubic)  + CenterCrop(144)
      tv_nearest_100_96        Resize(100, nearest)  + CenterCrop(96)
      tv_bilinear_128_113x95   Resize(128, bilinear) + CenterCrop((113, 95))   (offsets 7.5, 48.5)
      norm_bilinear_128_113x95 [1, 3, 113, 95] F32: the same + ToTensor + Normalize(ImageNet mean, std)
      resize_bicubic_77        Resize(77, bicubic), the whole image (a 3.9x reduction)
      up_bilinear_50, up_bicubic_50, up_nearest_50
                               the top-left 30x20 pixels (PIL's crop box (0, 0, 30, 20)) enlarged to 75x50
  Full-size normalised 224x224 tensors are left out to keep the fixtures small: Normalize is
  checked on the 113x95 case and the 224 case follows from its U8 pixels.

    apt-get install python3-torch python3-torchvision python3-skimage
    /usr/bin/python3 scripts/make-image-fixtures.py
"""
import io
import json
import os
import struct

import numpy as np
import skimage.data
import torch
import torchvision
from PIL import Image
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode as IM

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "images")
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def write_safetensors(path, arrays, metadata):
    """{name: numpy array} (uint8 or float32) in safetensors layout, names sorted."""
    header, blobs, offset = {}, [], 0
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        dtype = {np.dtype("uint8"): "U8", np.dtype("float32"): "F32"}[a.dtype]
        data = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    os.makedirs(OUT, exist_ok=True)
    jpeg = io.BytesIO()
    Image.fromarray(skimage.data.chelsea()).save(jpeg, format="JPEG", quality=90, subsampling=2)  # 2 = 4:2:0
    with open(os.path.join(OUT, "cat.jpg"), "wb") as f:
        f.write(jpeg.getvalue())
    img = Image.open(os.path.join(OUT, "cat.jpg")).convert("RGB")
    img.save(os.path.join(OUT, "cat.png"), optimize=True)

    def pipeline(size, crop, interpolation, normalize=False):
        steps = [T.Resize(size, interpolation=interpolation), T.CenterCrop(crop)]
        if normalize:
            return (T.Compose(steps + [T.ToTensor(), T.Normalize(MEAN, STD)])(img)).unsqueeze(0).numpy()
        return np.asarray(T.Compose(steps)(img))

    arrays = {
        "tv_bilinear_256_224": pipeline(256, 224, IM.BILINEAR),
        "tv_bicubic_160_144": pipeline(160, 144, IM.BICUBIC),
        "tv_nearest_100_96": pipeline(100, 96, IM.NEAREST),
        "tv_bilinear_128_113x95": pipeline(128, (113, 95), IM.BILINEAR),
        "norm_bilinear_128_113x95": pipeline(128, (113, 95), IM.BILINEAR, normalize=True),
        "resize_bicubic_77": np.asarray(T.Resize(77, interpolation=IM.BICUBIC)(img)),
    }
    corner = img.crop((0, 0, 30, 20))
    for name, mode in [("bilinear", IM.BILINEAR), ("bicubic", IM.BICUBIC), ("nearest", IM.NEAREST)]:
        arrays[f"up_{name}_50"] = np.asarray(T.Resize(50, interpolation=mode)(corner))
    arrays = {
        **arrays,
    }
    import PIL
    metadata = {
        "generator": "scripts/make-image-fixtures.py",
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "pillow": PIL.__version__,
        "mean": json.dumps(MEAN),
        "std": json.dumps(STD),
    }
    write_safetensors(os.path.join(OUT, "preprocess.safetensors"), arrays, metadata)
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
