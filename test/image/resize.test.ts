import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { centerCrop, decodeImage, resizeImage, resizeShorterSide, rgbImage, type Interpolation, type RgbImage } from '../../src/image/index.js';
import { IMAGES, pixelDifference, referenceImage } from './fixtures.js';

// PIL's decoding of cat.jpg (lossless PNG), so these compare resizing alone, bit for bit.
const pil = async (): Promise<RgbImage> => decodeImage(readFileSync(`${IMAGES}cat.png`), 'cat.png');

const cases: [string, number, number | [number, number], Interpolation][] = [
  ['tv_bilinear_256_224', 256, 224, 'bilinear'],
  ['tv_bicubic_160_144', 160, 144, 'bicubic'],
  ['tv_nearest_100_96', 100, 96, 'nearest'],
  ['tv_bilinear_128_113x95', 128, [113, 95], 'bilinear'],
];

for (const [name, size, crop, interpolation] of cases) {
  test(`Resize(${size}, ${interpolation}) + CenterCrop(${crop}) equals torchvision on PIL bit for bit`, async () => {
    const [h, w] = typeof crop === 'number' ? [crop, crop] : crop;
    const ours = centerCrop(resizeShorterSide(await pil(), size, interpolation), h, w);
    assert.deepEqual(pixelDifference(ours, referenceImage(name)), { max: 0, differing: 0 });
  });
}

test('a 3.9x bicubic reduction of the whole image equals PIL', async () => {
  const ours = resizeShorterSide(await pil(), 77, 'bicubic');
  assert.deepEqual([ours.width, ours.height], [115, 77]); // floor(77 * 451 / 300)
  assert.deepEqual(pixelDifference(ours, referenceImage('resize_bicubic_77')), { max: 0, differing: 0 });
});

test('enlarging (30x20 -> 75x50) equals PIL for every filter', async () => {
  const full = await pil();
  const corner = rgbImage(30, 20);
  for (let y = 0; y < 20; y++) corner.data.set(full.data.subarray(y * full.width * 3, (y * full.width + 30) * 3), y * 30 * 3);
  for (const f of ['bilinear', 'bicubic', 'nearest'] as const) {
    const ours = resizeImage(corner, 75, 50, f);
    assert.deepEqual(pixelDifference(ours, referenceImage(`up_${f}_50`)), { max: 0, differing: 0 }, f);
  }
});

test('resizing keeps constant images constant and clamps bicubic overshoot to 0..255', () => {
  const grey = rgbImage(7, 5, new Uint8Array(7 * 5 * 3).fill(77));
  assert.ok(resizeImage(grey, 3, 11, 'bicubic').data.every((v) => v === 77));
  // A hard edge: bicubic's negative lobes overshoot, and the result stays in range.
  const edge = rgbImage(8, 1, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]));
  const up = resizeImage(edge, 32, 1, 'bicubic');
  assert.equal(Math.min(...up.data), 0);
  assert.equal(Math.max(...up.data), 255);
  assert.throws(() => resizeImage(grey, 0, 3, 'bilinear'), /output size must be positive integers, got 0x3/);
});

test('CenterCrop rounds offsets half to even and pads small images with black', () => {
  const img = rgbImage(4, 1, new Uint8Array([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]));
  // (4 - 1) / 2 = 1.5 -> 2; (4 - 3) / 2 = 0.5 -> 0
  assert.deepEqual([...centerCrop(img, 1, 1).data], [3, 3, 3]);
  assert.deepEqual([...centerCrop(img, 1, 3).data], [1, 1, 1, 2, 2, 2, 3, 3, 3]);
  // Padding 4 -> 7 wide: 1 column before, 2 after; 1 -> 2 high: 0 rows before, 1 after.
  const padded = centerCrop(img, 2, 7);
  assert.deepEqual([...padded.data.subarray(0, 21)], [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 0, 0, 0, 0, 0, 0]);
  assert.ok(padded.data.subarray(21).every((v) => v === 0));
});
