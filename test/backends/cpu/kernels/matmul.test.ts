import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import { batchedGemm, gemm } from '../../../../src/backends/cpu/kernels/matmul.js';
import type { FloatArray } from '../../../../src/backends/cpu/kernels/types.js';
import { assertClose, randomArray, type Dtype } from './util.js';

/** Naive reference: returns the expected C region and, per element, the sum of absolute terms. */
function naiveGemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, beta: number, c0: ArrayLike<number>, cOff: number,
): { c: Float64Array; scale: Float64Array } {
  const c = new Float64Array(M * N);
  const scale = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? a[aOff + k * M + i] : a[aOff + i * K + k];
        const bv = transB ? b[bOff + j * K + k] : b[bOff + k * N + j];
        s += av * bv;
        abs += Math.abs(av * bv);
      }
      const prior = beta === 0 ? 0 : beta * c0[cOff + i * N + j];
      c[i * N + j] = alpha * s + prior;
      scale[i * N + j] = Math.abs(alpha) * abs + Math.abs(prior);
    }
  }
  return { c, scale };
}

function runCase(rng: Rng, dtype: Dtype, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, beta: number): void {
  const aOff = rng.int(4), bOff = rng.int(4), cOff = rng.int(4);
  const pad = 3;
  const a = randomArray(rng, aOff + M * K + pad, dtype);
  const b = randomArray(rng, bOff + K * N + pad, dtype);
  const c = randomArray(rng, cOff + M * N + pad, dtype);
  if (beta === 0) for (let i = cOff; i < cOff + M * N; i++) c[i] = i % 2 ? NaN : Infinity; // must be ignored
  const before = Float64Array.from(c);
  const { c: expected, scale } = naiveGemm(transA, transB, M, N, K, alpha, a, aOff, b, bOff, beta, before, cOff);
  gemm(transA, transB, M, N, K, alpha, a, aOff, b, bOff, beta, c, cOff);
  const what = `${dtype} gemm(${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}, M=${M}, N=${N}, K=${K}, alpha=${alpha}, beta=${beta})`;
  assertClose(c.subarray(cOff, cOff + M * N), expected, dtype === 'float64' ? 1e-12 : 1e-5, what, scale);
  // Nothing outside the C region is touched.
  for (let i = 0; i < cOff; i++) assert.equal(c[i], before[i], `${what}: wrote before C`);
  for (let i = cOff + M * N; i < c.length; i++) assert.equal(c[i], before[i], `${what}: wrote after C`);
}

const SIZES = [1, 2, 3, 4, 5, 7, 8, 13, 33, 65];

test('gemm matches the naive product: all transposes, odd sizes, alpha/beta, offsets', () => {
  const rng = new Rng(1);
  for (const dtype of ['float64', 'float32'] as const) {
    for (let t = 0; t < 4; t++) {
      const transA = (t & 1) !== 0;
      const transB = (t & 2) !== 0;
      for (let r = 0; r < 30; r++) {
        const M = SIZES[rng.int(SIZES.length)];
        const N = SIZES[rng.int(SIZES.length)];
        const K = SIZES[rng.int(SIZES.length)];
        const alpha = [1, -0.5, 2.25][rng.int(3)];
        const beta = [0, 1, 0.3][rng.int(3)];
        runCase(rng, dtype, transA, transB, M, N, K, alpha, beta);
      }
    }
  }
});

test('gemm blocks over K, M and N correctly (sizes beyond one cache block)', () => {
  const rng = new Rng(2);
  const shapes: [number, number, number][] = [
    [67, 45, 777], // K split into balanced blocks
    [150, 9, 40], // several M blocks, ragged
    [3, 2101, 5], // N beyond one panel block
    [65, 65, 385],
    [1, 300, 200], // M = 1 (vector path)
    [200, 1, 300], // N = 1
    [130, 70, 1],
  ];
  for (const dtype of ['float64', 'float32'] as const) {
    for (const [M, N, K] of shapes) {
      for (let t = 0; t < 4; t++) runCase(rng, dtype, (t & 1) !== 0, (t & 2) !== 0, M, N, K, 1.5, t === 3 ? 0.5 : 0);
    }
  }
});

test('gemm edge cases: K = 0 scales C by beta; alpha = 0; empty M/N', () => {
  const c = new Float64Array([1, 2, 3, 4]);
  gemm(false, false, 2, 2, 0, 1, new Float64Array(0), 0, new Float64Array(0), 0, 0.5, c, 0);
  assert.deepEqual([...c], [0.5, 1, 1.5, 2]);
  gemm(false, false, 2, 2, 0, 1, new Float64Array(0), 0, new Float64Array(0), 0, 0, c, 0);
  assert.deepEqual([...c], [0, 0, 0, 0]);
  const c2 = new Float32Array([NaN, 1]);
  gemm(false, false, 1, 2, 3, 0, new Float32Array(3), 0, new Float32Array(6), 0, 0, c2, 0);
  assert.deepEqual([...c2], [0, 0]);
  gemm(false, false, 0, 5, 3, 1, new Float32Array(0), 0, new Float32Array(15), 0, 0, new Float32Array(0), 0);
});

test('gemm accepts mixed element types', () => {
  const rng = new Rng(3);
  const M = 9, N = 11, K = 70;
  const a = randomArray(rng, M * K, 'float32');
  const b = randomArray(rng, K * N, 'float64');
  const c: FloatArray = new Float64Array(M * N);
  gemm(false, false, M, N, K, 1, a, 0, b, 0, 0, c, 0);
  const { c: expected, scale } = naiveGemm(false, false, M, N, K, 1, a, 0, b, 0, 0, c, 0);
  assertClose(c, expected, 1e-12, 'mixed gemm', scale);
});

test('batchedGemm runs independent products', () => {
  const rng = new Rng(4);
  for (const dtype of ['float64', 'float32'] as const) {
    for (let t = 0; t < 4; t++) {
      const transA = (t & 1) !== 0, transB = (t & 2) !== 0;
      const batch = 3, M = 7, N = 33, K = 20;
      const a = randomArray(rng, batch * M * K, dtype);
      const b = randomArray(rng, batch * K * N, dtype);
      const c = randomArray(rng, batch * M * N, dtype);
      batchedGemm(batch, transA, transB, M, N, K, a, b, c);
      for (let i = 0; i < batch; i++) {
        const { c: expected, scale } = naiveGemm(transA, transB, M, N, K, 1, a, i * M * K, b, i * K * N, 0, c, 0);
        assertClose(c.subarray(i * M * N, (i + 1) * M * N), expected, dtype === 'float64' ? 1e-12 : 1e-5, `batchedGemm[${i}]`, scale);
      }
    }
  }
});
