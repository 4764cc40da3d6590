/** A decoded picture: `height` rows of `width` RGB pixels, 3 bytes each, row-major (HWC). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export function rgbImage(width: number, height: number, data: Uint8Array = new Uint8Array(width * height * 3)): RgbImage {
  if (data.length !== width * height * 3) {
    throw new Error(`an RGB image of ${width}x${height} needs ${width * height * 3} bytes, got ${data.length}`);
  }
  return { width, height, data };
}
