// The WebAssembly batch-norm kernels (src/backends/cpu/wasm/batchnorm.ts) against the TypeScript
// reference twins (src/backends/cpu/kernels/batchnorm.ts), float32: training forward (y, mean,
// invStd, varUnbiased), inference forward, backward (dx, dgamma, dbeta), numerically hard inputs,
// and through the public ops in both kernel modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import {
  batchNormBackward as refBackward,
  batchNormInferenceForward as refInference,
  batchNormTrainForward as refTrain,
} from '../../../../src/backends/cpu/kernels/batchnorm.js';
import { batchNormBackward, batchNormInferenceForward, batchNormTrainForward } from '../../../../src/backends/cpu/wasm/batchnorm.js';
import { ops, tensor, type Tensor } from '../../../../src/index.js';
import { assertClose } from '../kernels/util.js';
import { TOL, randomF32, requireWasm, withMode } from './util.js';

/** Scale of each dx element: |k| * (|dy| + |mean dy| + |xhat| * |mean(dy xhat)|), the size of the terms that cancel. */
function dxScale(dy: Float32Array, x: Float32Array, shape: number[], mean: ArrayLike<number>, invStd: ArrayLike<number>, gamma: Float32Array | null): Float64Array {
  const [n, c] = shape;
  const s = shape.slice(2).reduce((a, b) => a * b, 1);
  const out = new Float64Array(n * c * s);
  for (let ch = 0; ch < c; ch++) {
    let sumAbs = 0;
    let sumAbsXhat = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < s; i++) {
        const j = (b * c + ch) * s + i;
        sumAbs += Math.abs(dy[j]);
        sumAbsXhat += Math.abs(dy[j] * (x[j] - mean[ch]) * invStd[ch]);
      }
    }
    const k = Math.abs((gamma ? gamma[ch] : 1) * invStd[ch]);
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < s; i++) {
        const j = (b * c + ch) * s + i;
        out[j] = k * (Math.abs(dy[j]) + sumAbs / (n * s) + Math.abs((x[j] - mean[ch]) * invStd[ch]) * (sumAbsXhat / (n * s)) + 1e-6);
      }
    }
  }
  return out;
}

function checkBatchNorm(rng: Rng, shape: number[], affine: boolean, mean = 0, std = 1): void {
  const c = shape[1];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = randomF32(rng, size, mean, std);
  const gamma = affine ? randomF32(rng, c) : null;
  const beta = affine ? randomF32(rng, c) : null;
  const eps = 1e-5;
  const what = `batchNorm [${shape}]${affine ? ' affine' : ''} mean ${mean} std ${std}`;

  const ref = refTrain(x, shape, gamma, beta, eps);
  const got = batchNormTrainForward(x, shape, gamma, beta, eps);
  assertClose(got.mean, ref.mean, TOL, `${what} mean`, Float64Array.from(ref.mean, (_, i) => Math.abs(mean) + std + 0 * i));
  assertClose(got.invStd, ref.invStd, TOL, `${what} invStd`);
  assertClose(got.varUnbiased, ref.varUnbiased, TOL, `${what} varUnbiased`, Float64Array.from(ref.varUnbiased, Math.abs));
  // y = xhat * gamma + beta with |xhat| = O(1): error relative to |xhat * gamma| + |beta|
  const yScale = Float64Array.from(ref.y, (_, j) => {
    const ch = Math.floor(j / (size / shape[0])) % c;
    return Math.abs((x[j] - ref.mean[ch]) * ref.invStd[ch] * (gamma ? gamma[ch] : 1)) + Math.abs(beta ? beta[ch] : 0) + 1;
  });
  assertClose(got.y, ref.y, TOL, `${what} y`, yScale);

  const variance = Float32Array.from(ref.varUnbiased, (v) => (Number.isNaN(v) ? 1 : v));
  assertClose(batchNormInferenceForward(x, shape, ref.mean as Float32Array, variance, gamma, beta, eps), refInference(x, shape, ref.mean, variance, gamma, beta, eps), TOL, `${what} inference`, yScale);

  const dy = randomF32(rng, size);
  const bwd = batchNormBackward(dy, x, shape, ref.mean as Float32Array, ref.invStd as Float32Array, gamma);
  const bwdRef = refBackward(dy, x, shape, ref.mean, ref.invStd, gamma);
  const sumAbsDy = new Float64Array(c);
  const sumAbsDyXhat = new Float64Array(c);
  const s = size / (shape[0] * c);
  for (let j = 0; j < size; j++) {
    const ch = Math.floor(j / s) % c;
    sumAbsDy[ch] += Math.abs(dy[j]);
    sumAbsDyXhat[ch] += Math.abs(dy[j] * (x[j] - ref.mean[ch]) * ref.invStd[ch]);
  }
  assertClose(bwd.dbeta, bwdRef.dbeta, TOL, `${what} dbeta`, sumAbsDy);
  assertClose(bwd.dgamma, bwdRef.dgamma, TOL, `${what} dgamma`, sumAbsDyXhat);
  assertClose(bwd.dx, bwdRef.dx, TOL, `${what} dx`, dxScale(dy, x, shape, ref.mean, ref.invStd, gamma));
}

test('wasm batch norm matches the reference on hand-picked shapes', () => {
  requireWasm();
  const rng = new Rng(51);
  const shapes = [
    [4, 3, 8, 8],
    [3, 5, 7, 7], // s = 49: vectors plus a scalar tail
    [1, 4, 13, 11], // batch 1, odd plane
    [3, 2, 1, 3], // s = 3: scalar only
    [2, 3, 5, 1],
    [5, 6], // BatchNorm1d shape: s = 1
    [2, 2, 20, 20], // s = 400: several f32 blocks per segment
    [1, 1, 1, 2], // two elements per channel
  ];
  for (const shape of shapes) {
    checkBatchNorm(rng, shape, true);
    checkBatchNorm(rng, shape, false);
  }
});

test('wasm batch norm matches the reference on seeded random shapes', () => {
  requireWasm();
  const rng = new Rng(52);
  for (let i = 0; i < 40; i++) {
    const shape = [[1, 3][rng.int(2)], 1 + rng.int(6), 1 + rng.int(15), 1 + rng.int(15)];
    if (shape[0] * shape[2] * shape[3] < 2) continue;
    checkBatchNorm(rng, shape, rng.int(2) === 0, rng.int(3) === 0 ? 5 : 0, [1, 0.01, 30][rng.int(3)]);
  }
});

test('wasm batch norm statistics are sound for a large mean and a small spread', () => {
  requireWasm();
  const rng = new Rng(53);
  // mean 1000, std 0.01: a one-pass sum of squares in f32 would lose every digit of the variance.
  const shape = [8, 2, 16, 16];
  checkBatchNorm(rng, shape, true, 1000, 0.01);
  const x = randomF32(rng, 8 * 2 * 256, 1000, 0.01);
  const got = batchNormTrainForward(x, shape, null, null, 0);
  for (let ch = 0; ch < 2; ch++) {
    // exact statistics in f64
    let sum = 0;
    let count = 0;
    for (let b = 0; b < 8; b++) for (let i = 0; i < 256; i++) (sum += x[(b * 2 + ch) * 256 + i]), count++;
    const m = sum / count;
    let sq = 0;
    for (let b = 0; b < 8; b++) for (let i = 0; i < 256; i++) sq += (x[(b * 2 + ch) * 256 + i] - m) ** 2;
    const inv = 1 / Math.sqrt(sq / count);
    assert.ok(Math.abs(got.invStd[ch] - inv) <= 1e-5 * inv, `invStd ${got.invStd[ch]} vs ${inv}`);
    // normalised values come out with unit spread and zero mean (to f32 rounding of x - mean)
    let ySum = 0;
    let ySq = 0;
    for (let b = 0; b < 8; b++) {
      for (let i = 0; i < 256; i++) {
        const j = (b * 2 + ch) * 256 + i;
        const exact = (x[j] - m) * inv;
        assert.ok(Math.abs(got.y[j] - exact) <= 1e-4 * (1 + Math.abs(exact)), `y[${j}] ${got.y[j]} vs ${exact}`);
        ySum += got.y[j];
        ySq += got.y[j] ** 2;
      }
    }
    assert.ok(Math.abs(ySum / count) < 1e-4 && Math.abs(ySq / count - 1) < 1e-4);
  }
});

test('wasm batch norm: a channel with a single element has NaN unbiased variance, as the reference', () => {
  requireWasm();
  const x = Float32Array.from([1.5, -2, 3]);
  const got = batchNormTrainForward(x, [1, 3], null, null, 1e-5);
  const ref = refTrain(x, [1, 3], null, null, 1e-5);
  for (let ch = 0; ch < 3; ch++) assert.ok(Number.isNaN(got.varUnbiased[ch]) && Number.isNaN(ref.varUnbiased[ch]));
  assertClose(got.y, ref.y, TOL, 'single-element y');
});

// ---------------------------------------------------------------------------------------------
// Through the public ops

test('batchNorm through the ops: training forward, running statistics, gradients and eval forward agree between modes', () => {
  requireWasm();
  const rng = new Rng(54);
  // large enough for the wasm path (>= 1024 elements, spatial size >= 2)
  for (const shape of [[4, 6, 9, 9], [3, 5, 16, 15]]) {
    const C = shape[1];
    const xv = randomF32(rng, shape.reduce((a, b) => a * b, 1), 0.5, 2);
    const gv = randomF32(rng, C);
    const bv = randomF32(rng, C);
    const rv = Float32Array.from({ length: xv.length }, (_, i) => Math.cos(i));
    const run = (): Float32Array[] => {
      const x = tensor(xv.slice(), shape).requiresGrad_();
      const weight = tensor(gv.slice(), [C]).requiresGrad_();
      const bias = tensor(bv.slice(), [C]).requiresGrad_();
      const runningMean = tensor(new Float32Array(C), [C]);
      const runningVar = tensor(new Float32Array(C).fill(1), [C]);
      const r = tensor(rv, shape);
      const y = ops.batchNorm(x, runningMean, runningVar, weight, bias, { training: true });
      ops.sum(ops.mul(y, r)).backward();
      const yEval = ops.batchNorm(x, runningMean, runningVar, weight, bias, { training: false });
      const all: Tensor[] = [y, x.grad!, weight.grad!, bias.grad!, runningMean, runningVar, yEval];
      const out = all.map((t) => t.dataSync() as Float32Array);
      for (const t of [...all, x, weight, bias, r]) t.dispose();
      return out;
    };
    const ref = withMode('reference', run);
    const got = withMode('wasm', run);
    const names = ['y', 'dx', 'dgamma', 'dbeta', 'runningMean', 'runningVar', 'eval y'];
    got.forEach((g, i) => {
      let scale = 0;
      for (const v of ref[i]) scale = Math.max(scale, Math.abs(v));
      assertClose(g, ref[i], TOL, `batchNorm [${shape}] ${names[i]}`, new Float64Array(g.length).fill(Math.max(scale, 1)));
    });
  }
});

test('batch norm split over the thread pool by channels equals the single-threaded result bit for bit', async () => {
  requireWasm();
  const { setNumThreads } = await import('../../../../src/index.js');
  const rng = new Rng(77);
  const shape = [4, 13, 37, 41];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = randomF32(rng, size, 0.3, 2);
  const dy = randomF32(rng, size);
  const gamma = randomF32(rng, 13);
  const beta = randomF32(rng, 13);
  const run = (): Float32Array[] => {
    const t = batchNormTrainForward(x, shape, gamma, beta, 1e-5);
    const b = batchNormBackward(dy, x, shape, t.mean, t.invStd, gamma);
    const inf = batchNormInferenceForward(x, shape, t.mean, t.varUnbiased, gamma, beta, 1e-5);
    return [t.y, t.mean, t.invStd, b.dx, b.dgamma, b.dbeta, inf].map((a) => a.slice());
  };
  await setNumThreads(1);
  const one = run();
  await setNumThreads(2);
  const two = run();
  await setNumThreads(1);
  assert.deepEqual(two, one);
});
