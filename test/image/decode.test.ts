import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import encodePng from '@jsquash/png/encode.js';
import { decodeImage, sniffImageFormat } from '../../src/image/index.js';
import { IMAGES, pixelDifference } from './fixtures.js';

test('the JPEG decodes to exactly the pixels PIL (libjpeg-turbo) decodes', async () => {
  const jpeg = await decodeImage(readFileSync(`${IMAGES}cat.jpg`), 'cat.jpg');
  // cat.png holds PIL's decoding of cat.jpg, losslessly.
  const pil = await decodeImage(readFileSync(`${IMAGES}cat.png`), 'cat.png');
  assert.deepEqual([jpeg.width, jpeg.height, pil.width, pil.height], [451, 300, 451, 300]);
  assert.deepEqual(pixelDifference(jpeg, pil), { max: 0, differing: 0 });
});

test('formats are recognised by their signature', () => {
  assert.equal(sniffImageFormat(readFileSync(`${IMAGES}cat.jpg`)), 'jpeg');
  assert.equal(sniffImageFormat(readFileSync(`${IMAGES}cat.png`)), 'png');
  assert.equal(sniffImageFormat(new TextEncoder().encode('GIF89a')), null);
});

test('a PNG with alpha loses its alpha channel, as PIL convert("RGB") does', async () => {
  await decodeImage(readFileSync(`${IMAGES}cat.png`)); // loads the PNG codec, which the encoder shares
  const rgba = new Uint8ClampedArray([255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255, 10, 20, 30, 40]);
  const png = new Uint8Array(await encodePng({ data: rgba, width: 2, height: 2, colorSpace: 'srgb' } as ImageData));
  const image = await decodeImage(png);
  assert.deepEqual([image.width, image.height], [2, 2]);
  assert.deepEqual([...image.data], [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
});

test('undecodable bytes name the file', async () => {
  await assert.rejects(decodeImage(new TextEncoder().encode('hello'), 'notes.txt'), /notes\.txt: not a JPEG or PNG file \(it starts with bytes 68 65 6c 6c 6f\)/);
  await assert.rejects(decodeImage(new Uint8Array(0), 'empty.jpg'), /empty\.jpg: not a JPEG or PNG file \(it starts with bytes \(empty file\)\)/);
  const jpeg = readFileSync(`${IMAGES}cat.jpg`);
  await assert.rejects(decodeImage(jpeg.subarray(0, 600), 'cut.jpg'), /cut\.jpg: cannot decode this JPEG file/);
  const png = readFileSync(`${IMAGES}cat.png`);
  await assert.rejects(decodeImage(png.subarray(0, 100), 'cut.png'), /cut\.png: cannot decode this PNG file/);
  // The codecs keep working after a failure, and a truncated file decoded alongside an intact
  // one is blamed alone.
  assert.equal((await decodeImage(png, 'cat.png')).width, 451);
  const [cut, whole] = await Promise.allSettled([decodeImage(jpeg.subarray(0, 20000), 'cut.jpg'), decodeImage(jpeg, 'cat.jpg')]);
  assert.match(cut.status === 'rejected' ? String(cut.reason) : 'decoded', /cut\.jpg: cannot decode this JPEG file \(Premature end of JPEG file\)/);
  assert.equal(whole.status, 'fulfilled');
});
