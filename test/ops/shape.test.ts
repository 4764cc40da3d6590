import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, Rng } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { gradcheck, randomInput } from '../helpers/gradcheck.js';

const rng = new Rng(4);

test('reshape is a view; permute, slice, pad and concat copy', () => {
  const x = tensor(new Float32Array([0, 1, 2, 3, 4, 5]), [2, 3]);
  assert.deepEqual(ops.reshape(x, [3, -1]).shape, [3, 2]);
  assert.equal(ops.reshape(x, [6]).storage, x.storage);
  assert.deepEqual([...ops.transpose(x).dataSync()], [0, 3, 1, 4, 2, 5]);
  assert.deepEqual([...ops.slice(x, [0, 1], [-1, 2]).dataSync()], [1, 2, 4, 5]);
  assert.deepEqual([...ops.pad(x, [[1, 0], [0, 1]]).dataSync()], [0, 0, 0, 0, 0, 1, 2, 0, 3, 4, 5, 0]);
  assert.deepEqual([...ops.concat([x, x], 1).dataSync()], [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
  const [a, b] = ops.split(x, [1, 2], 1);
  assert.deepEqual([...a.dataSync()], [0, 3]);
  assert.deepEqual([...b.dataSync()], [1, 2, 4, 5]);
  assert.deepEqual(ops.flatten(tensor(new Float32Array(24), [2, 3, 4]), 1).shape, [2, 12]);
  assert.throws(() => ops.reshape(x, [4, 2]), /reshape: shape \[4, 2\] has 8 elements but the tensor \[2, 3\] has 6/);
  assert.throws(() => ops.concat([x, tensor([1, 2])], 0), /concat: shapes must match/);
});

test('permute of a 4-D tensor matches index arithmetic', () => {
  const shape = [2, 3, 4, 5];
  const v = new Float32Array(120).map((_, i) => i);
  const y = ops.permute(tensor(v, shape), [0, 2, 3, 1]).dataSync();
  for (let n = 0; n < 2; n++) for (let c = 0; c < 3; c++) for (let h = 0; h < 4; h++) for (let w = 0; w < 5; w++) {
    assert.equal(y[((n * 4 + h) * 5 + w) * 3 + c], v[((n * 3 + c) * 4 + h) * 5 + w]);
  }
});

test('shape op gradients', () => {
  const x = randomInput([2, 3, 4], rng);
  const y = randomInput([2, 2, 4], rng);
  gradcheck((t) => ops.reshape(t, [4, 6]), [x]);
  gradcheck((t) => ops.permute(t, [2, 0, 1]), [x]);
  gradcheck((t) => ops.slice(t, [1, 0, 1], [1, 2, 3]), [x]);
  gradcheck((t) => ops.pad(t, [[0, 1], [2, 0], [1, 1]]), [x]);
  gradcheck((a, b) => ops.concat([a, b], 1), [x, y]);
  gradcheck((t) => ops.expandTo(ops.slice(t, [0, 0, 0], [2, 1, 4]), [2, 5, 4]), [x]);
  gradcheck((t) => { const [p, q] = ops.split(t, [1, 3], 2); return ops.mul(p, ops.sum(q, 2, true)); }, [x]);
});
