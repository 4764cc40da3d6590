/**
 * Resizing as Pillow does it for 8-bit RGB images, so results match PIL (and so torchvision's
 * transforms on PIL images) bit for bit.
 *
 * Bilinear and bicubic: a separable convolution, horizontal pass first, then vertical. Each
 * output pixel is centred at (i + 0.5) * scale in the input; when shrinking, the filter is
 * stretched by the scale factor (antialiasing), so every input pixel contributes. The weights
 * of one output pixel are normalised to sum to 1, then turned into 22-bit fixed point; each
 * pass accumulates in integers, rounds, and clamps to 0..255 before the next pass.
 *
 * Nearest: output pixel i copies input pixel floor(offset + scale / 2 + i * scale), with the
 * position advanced by repeated addition as Pillow does (it can differ from the product by
 * one at exact halves).
 */
import { rgbImage, type RgbImage } from './image.js';

export type Interpolation = 'bilinear' | 'bicubic' | 'nearest';

interface Filter {
  support: number;
  weight(x: number): number;
}

const BILINEAR: Filter = {
  support: 1,
  weight(x) {
    const ax = Math.abs(x);
    return ax < 1 ? 1 - ax : 0;
  },
};

/** Keys' cubic convolution with a = -0.5 (Pillow's choice; OpenCV and PyTorch tensors use -0.75). */
const BICUBIC: Filter = {
  support: 2,
  weight(x) {
    const a = -0.5;
    const ax = Math.abs(x);
    // Evaluated in Pillow's operation order so the double-precision weights agree exactly.
    if (ax < 1) return ((a + 2) * ax - (a + 3)) * ax * ax + 1;
    if (ax < 2) return (((ax - 5) * ax + 8) * ax - 4) * a;
    return 0;
  },
};

const PRECISION_BITS = 22; // 32 bits - 8 for the pixel - 2 for negative lobes and overshoot

/** For each output pixel along one axis: the first input index, the tap count and the fixed-point weights. */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  /** count.length rows of `stride` weights. */
  weights: Int32Array;
  stride: number;
}

function computeTaps(inSize: number, outSize: number, filter: Filter): Taps {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const w = new Float64Array(stride);
  const invScale = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = hi - lo;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      w[k] = filter.weight((k + lo - center + 0.5) * invScale);
      sum += w[k];
    }
    for (let k = 0; k < n; k++) {
      const normalised = sum !== 0 ? w[k] / sum : w[k];
      // Round half away from zero to the fixed-point grid.
      weights[o * stride + k] = Math.trunc(normalised < 0 ? normalised * (1 << PRECISION_BITS) - 0.5 : normalised * (1 << PRECISION_BITS) + 0.5);
    }
    first[o] = lo;
    count[o] = n;
  }
  return { first, count, weights, stride };
}

function clampShift(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Resamples along x: `rows` rows of `src` starting at row `row0`. */
function horizontalPass(src: RgbImage, row0: number, rows: number, outWidth: number, taps: Taps): RgbImage {
  const out = rgbImage(outWidth, rows);
  const { first, count, weights, stride } = taps;
  const s = src.data;
  const d = out.data;
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < rows; y++) {
    const rowStart = (row0 + y) * src.width * 3;
    for (let x = 0; x < outWidth; x++) {
      let r = half;
      let g = half;
      let b = half;
      const n = count[x];
      const wo = x * stride;
      let p = rowStart + first[x] * 3;
      for (let k = 0; k < n; k++, p += 3) {
        const w = weights[wo + k];
        r += s[p] * w;
        g += s[p + 1] * w;
        b += s[p + 2] * w;
      }
      const q = (y * outWidth + x) * 3;
      d[q] = clampShift(r);
      d[q + 1] = clampShift(g);
      d[q + 2] = clampShift(b);
    }
  }
  return out;
}

/** Resamples along y; `taps.first` is relative to `src`'s first row. */
function verticalPass(src: RgbImage, outHeight: number, taps: Taps): RgbImage {
  const out = rgbImage(src.width, outHeight);
  const { first, count, weights, stride } = taps;
  const s = src.data;
  const d = out.data;
  const rowBytes = src.width * 3;
  const half = 1 << (PRECISION_BITS - 1);
  for (let y = 0; y < outHeight; y++) {
    const n = count[y];
    const wo = y * stride;
    const base = first[y] * rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      let acc = half;
      for (let k = 0, p = base + i; k < n; k++, p += rowBytes) acc += s[p] * weights[wo + k];
      d[y * rowBytes + i] = clampShift(acc);
    }
  }
  return out;
}

function resizeNearest(image: RgbImage, width: number, height: number): RgbImage {
  const out = rgbImage(width, height);
  const sx = image.width / width;
  const sy = image.height / height;
  const xs = new Int32Array(width);
  for (let x = 0, pos = sx * 0.5; x < width; x++, pos += sx) xs[x] = Math.min(Math.trunc(pos), image.width - 1);
  let pos = sy * 0.5;
  for (let y = 0; y < height; y++, pos += sy) {
    const row = Math.min(Math.trunc(pos), image.height - 1) * image.width * 3;
    for (let x = 0; x < width; x++) {
      const p = row + xs[x] * 3;
      const q = (y * width + x) * 3;
      out.data[q] = image.data[p];
      out.data[q + 1] = image.data[p + 1];
      out.data[q + 2] = image.data[p + 2];
    }
  }
  return out;
}

/** `image` resized to exactly width x height, as PIL's `Image.resize((width, height), filter)`. */
export function resizeImage(image: RgbImage, width: number, height: number, interpolation: Interpolation): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`resize: the output size must be positive integers, got ${width}x${height}`);
  }
  if (width === image.width && height === image.height) return rgbImage(width, height, image.data.slice());
  if (interpolation === 'nearest') return resizeNearest(image, width, height);
  const filter = interpolation === 'bicubic' ? BICUBIC : BILINEAR;
  const vertical = computeTaps(image.height, height, filter);
  // Only the input rows the vertical pass reads need the horizontal pass.
  const row0 = vertical.first[0];
  const row1 = vertical.first[height - 1] + vertical.count[height - 1];
  let current = image;
  if (width !== image.width) {
    current = horizontalPass(image, row0, row1 - row0, width, computeTaps(image.width, width, filter));
    for (let y = 0; y < height; y++) vertical.first[y] -= row0;
  }
  return height !== image.height ? verticalPass(current, height, vertical) : current;
}

/**
 * torchvision's `Resize(size)` with an int: the shorter side becomes `size`, the longer one
 * `floor(size * long / short)` (so the aspect ratio is kept up to truncation).
 */
export function resizeShorterSide(image: RgbImage, size: number, interpolation: Interpolation): RgbImage {
  const { width: w, height: h } = image;
  const [short, long] = w <= h ? [w, h] : [h, w];
  const newLong = Math.trunc((size * long) / short);
  const [newW, newH] = w <= h ? [size, newLong] : [newLong, size];
  if (newW === w && newH === h) return image;
  return resizeImage(image, newW, newH, interpolation);
}
