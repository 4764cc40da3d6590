import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../../src/backends/cpu/index.js';
import { centerCrop, decodeImage, imageToTensor, preprocessImage, resizeShorterSide } from '../../src/image/index.js';
import { IMAGENET_MEAN, IMAGENET_STD, type Preprocessing } from '../../src/models/registry.js';
import { toFloat32 } from '../../src/io/safetensors.js';
import { IMAGES, referenceImage, references } from './fixtures.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('ToTensor + Normalize equal torchvision in float32 exactly', async () => {
  const ref = references().tensors.get('norm_bilinear_128_113x95')!;
  const pixels = referenceImage('tv_bilinear_128_113x95');
  const t = imageToTensor(pixels, IMAGENET_MEAN, IMAGENET_STD);
  assert.deepEqual(t.shape, ref.shape);
  assert.equal(maxAbsDiff(t.dataSync(), toFloat32(ref)), 0);
  t.dispose();
});

/*
 * The whole pipeline from the JPEG's bytes against torchvision on PIL's decoding of the same
 * file. The only place the two can part is the JPEG decoder; ours (libjpeg-turbo's, as
 * WebAssembly) decodes this file to PIL's pixels exactly (decode.test.ts: max difference 0),
 * and resizing, cropping and normalising are bit-exact (resize.test.ts, above), so the
 * tolerance is float32 rounding only.
 */
test('decode + preprocess of cat.jpg equals torchvision Resize(256) + CenterCrop(224) + ToTensor + Normalize', async () => {
  const preprocessing: Preprocessing = { resizeSize: 256, cropSize: 224, interpolation: 'bilinear', mean: IMAGENET_MEAN, std: IMAGENET_STD };
  const image = await decodeImage(readFileSync(`${IMAGES}cat.jpg`), 'cat.jpg');
  const ours = preprocessImage(image, preprocessing);
  assert.deepEqual(ours.shape, [1, 3, 224, 224]);
  const expected = imageToTensor(referenceImage('tv_bilinear_256_224'), IMAGENET_MEAN, IMAGENET_STD);
  assert.ok(maxAbsDiff(ours.dataSync(), expected.dataSync()) <= 1e-6);
  // Channel-first layout: element [0, c, y, x] is pixel (x, y)'s channel c.
  const crop = centerCrop(resizeShorterSide(image, 256, 'bilinear'), 224);
  const [c, y, x] = [2, 100, 37];
  assert.equal(ours.dataSync()[(c * 224 + y) * 224 + x], Math.fround(Math.fround(Math.fround(crop.data[(y * 224 + x) * 3 + c] / 255) - Math.fround(IMAGENET_MEAN[c])) / Math.fround(IMAGENET_STD[c])));
  ours.dispose();
  expected.dispose();
});
