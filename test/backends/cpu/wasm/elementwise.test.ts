// Same-shape float32 addition on the WebAssembly kernels against the reference, on one and two
// threads, through the public op in both kernel modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import { ops, tensor, setNumThreads } from '../../../../src/index.js';
import { randomF32, requireWasm, withMode } from './util.js';

test('wasm add equals the reference add exactly (sizes around the thresholds, 1 and 2 threads)', async () => {
  requireWasm();
  const rng = new Rng(8);
  for (const threads of [1, 2]) {
    await setNumThreads(threads);
    for (const n of [16383, 16384, 65537, 300001]) {
      const a = tensor(randomF32(rng, n), [n]);
      const b = tensor(randomF32(rng, n), [n]);
      const fast = withMode('wasm', () => ops.add(a, b)).dataSync();
      const ref = withMode('reference', () => ops.add(a, b)).dataSync();
      assert.deepEqual(fast, ref, `n=${n}, ${threads} thread(s)`);
    }
  }
  await setNumThreads(1);
});
