import { rgbImage, type RgbImage } from './image.js';

/** Python's round(): halves go to the even neighbour (torchvision rounds crop offsets with it). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** A copy of the `height` x `width` window at (top, left); pixels outside the image are black. */
function window(image: RgbImage, top: number, left: number, height: number, width: number): RgbImage {
  const out = rgbImage(width, height);
  for (let y = 0; y < height; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= image.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(width, image.width - left);
    if (x1 <= x0) continue;
    const src = (sy * image.width + left + x0) * 3;
    out.data.set(image.data.subarray(src, src + (x1 - x0) * 3), (y * width + x0) * 3);
  }
  return out;
}

/**
 * torchvision's `CenterCrop((height, width))`: the offsets are round((size - crop) / 2) with
 * Python's half-to-even rounding. An image smaller than the crop is first padded with black,
 * floor(diff / 2) before and the rest after, as torchvision pads.
 */
export function centerCrop(image: RgbImage, height: number, width: number = height): RgbImage {
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new Error(`centerCrop: the crop size must be positive integers, got ${height}x${width}`);
  }
  let top: number;
  let left: number;
  if (height > image.height || width > image.width) {
    const padTop = height > image.height ? Math.floor((height - image.height) / 2) : 0;
    const padLeft = width > image.width ? Math.floor((width - image.width) / 2) : 0;
    const paddedH = Math.max(height, image.height);
    const paddedW = Math.max(width, image.width);
    top = roundHalfEven((paddedH - height) / 2) - padTop;
    left = roundHalfEven((paddedW - width) / 2) - padLeft;
  } else {
    top = roundHalfEven((image.height - height) / 2);
    left = roundHalfEven((image.width - width) / 2);
  }
  return window(image, top, left, height, width);
}
