// The PIL/torchvision reference images written by scripts/make-image-fixtures.py.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, type SafetensorsFile } from '../../src/io/safetensors.js';
import { rgbImage, type RgbImage } from '../../src/image/index.js';

export const IMAGES = fileURLToPath(new URL('../fixtures/images/', import.meta.url));

let cached: SafetensorsFile | undefined;
export function references(): SafetensorsFile {
  cached ??= parseSafetensors(readFileSync(`${IMAGES}preprocess.safetensors`), 'preprocess.safetensors');
  return cached;
}

/** A stored [H, W, 3] U8 tensor as an image. */
export function referenceImage(name: string): RgbImage {
  const t = references().tensors.get(name);
  if (!t) throw new Error(`preprocess.safetensors has no ${name}`);
  return rgbImage(t.shape[1], t.shape[0], t.data);
}

/** Count and largest size of the byte differences between two images of the same size. */
export function pixelDifference(a: RgbImage, b: RgbImage): { max: number; differing: number } {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d) differing++;
    if (d > max) max = d;
  }
  return { max, differing };
}
