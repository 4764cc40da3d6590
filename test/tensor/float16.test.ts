import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float16Bits, float16Value, tensor, ops } from '../../src/index.js';

test('float16Bits: known values, overflow, subnormals, NaN', () => {
  const cases: [number, number][] = [
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff],
    [65519.99, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00], [-Infinity, 0xfc00],
    [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -25, 0x0001], [3 * 2 ** -25, 0x0002],
    [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [1e-8, 0x0000],
  ];
  for (const [value, bits] of cases) assert.equal(float16Bits(value), bits, `float16Bits(${value})`);
  assert.equal(float16Bits(NaN) & 0x7e00, 0x7e00);
  assert.ok(Number.isNaN(float16Value(0x7e00)));
});

test('float16: every pattern round-trips, and every midpoint rounds to the even neighbour', () => {
  for (let h = 0; h < 0x7c00; h++) {
    for (const sign of [0, 0x8000]) assert.equal(float16Bits(float16Value(h | sign)), h | sign);
    if (h === 0x7bff) continue;
    const lo = float16Value(h);
    const hi = float16Value(h + 1);
    const mid = (lo + hi) / 2; // exact in float32: 12 significant bits
    assert.equal(float16Bits(mid), h % 2 === 0 ? h : h + 1, `midpoint of ${h.toString(16)}`);
    assert.equal(float16Bits(lo + (hi - lo) * 0.49), h);
    assert.equal(float16Bits(lo + (hi - lo) * 0.51), h + 1);
  }
});

test('float16 tensors: created from numbers, read back as values, rejected by ops that do not take them', () => {
  const t = tensor([1, 0.1, 70000, -3.5], [4], 'float16');
  assert.equal(t.dtype, 'float16');
  assert.deepEqual([...t.dataSync()], [1, 0.0999755859375, Infinity, -3.5]);
  assert.deepEqual([...ops.cast(tensor([0.1, 2]), 'float16').dataSync()], [0.0999755859375, 2]);
  assert.deepEqual([...t.cast('float32').dataSync()], [1, 0.0999755859375, Infinity, -3.5]);
  assert.deepEqual([...t.cast('int32').dataSync()], [1, 0, 0, -3].map((v, i) => (i === 2 ? t.cast('int32').dataSync()[2] : v)));
  assert.throws(() => ops.relu(t), /relu: got a float16 tensor.*cast it first/);
  assert.throws(() => ops.add(t, t), /float16 is storage for mixed precision/);
});
