import { tensor } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Preprocessing } from '../models/registry.js';
import type { RgbImage } from './image.js';
import { resizeShorterSide } from './resize.js';
import { centerCrop } from './crop.js';

/**
 * torchvision's `ToTensor()` + `Normalize(mean, std)` on an RGB image: a [1, 3, H, W] float32
 * tensor of (pixel / 255 - mean[c]) / std[c]. Every step is rounded to float32 as PyTorch's
 * float32 arithmetic rounds it, so the values equal torchvision's exactly.
 */
export function imageToTensor(image: RgbImage, mean: readonly number[] = [0, 0, 0], std: readonly number[] = [1, 1, 1]): Tensor {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    if (!(s !== 0)) throw new Error(`normalize: std[${c}] is ${std[c]}; it must be a non-zero number`);
    for (let i = 0; i < plane; i++) {
      out[c * plane + i] = Math.fround(Math.fround(data[i * 3 + c] / 255) - m) / s;
    }
  }
  return tensor(out, [1, 3, height, width]);
}

/**
 * The evaluation transform of torchvision's classification weights:
 * Resize(resizeSize, interpolation) → CenterCrop(cropSize) → ToTensor → Normalize(mean, std),
 * giving a [1, 3, cropSize, cropSize] float32 tensor.
 */
export function preprocessImage(image: RgbImage, preprocessing: Preprocessing): Tensor {
  const { resizeSize, cropSize, interpolation, mean, std } = preprocessing;
  const resized = resizeShorterSide(image, resizeSize, interpolation);
  return imageToTensor(centerCrop(resized, cropSize, cropSize), mean, std);
}
