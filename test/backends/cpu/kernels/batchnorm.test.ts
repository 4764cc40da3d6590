import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import {
  batchNormBackward,
  batchNormInferenceForward,
  batchNormTrainForward,
} from '../../../../src/backends/cpu/kernels/batchnorm.js';
import type { FloatArray } from '../../../../src/backends/cpu/kernels/types.js';
import { assertClose, assertScalarClose, cast, dot, randomArray, type Dtype } from './util.js';

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Per-channel element indices of an [N, C, ...] array. */
function channelIndices(shape: readonly number[], ch: number): number[] {
  const [n, c] = shape;
  const s = numel(shape.slice(2));
  const out: number[] = [];
  for (let b = 0; b < n; b++) for (let i = 0; i < s; i++) out.push((b * c + ch) * s + i);
  return out;
}

/** Naive statistics straight from the definitions (float64). */
function naiveTrain(x: ArrayLike<number>, shape: readonly number[], gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null, eps: number) {
  const c = shape[1];
  const y = new Float64Array(x.length);
  const mean = new Float64Array(c), variance = new Float64Array(c), unbiased = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const idx = channelIndices(shape, ch);
    const m = idx.reduce((s, i) => s + x[i], 0) / idx.length;
    const ss = idx.reduce((s, i) => s + (x[i] - m) ** 2, 0);
    mean[ch] = m;
    variance[ch] = ss / idx.length;
    unbiased[ch] = ss / (idx.length - 1);
    for (const i of idx) y[i] = ((x[i] - m) / Math.sqrt(variance[ch] + eps)) * (gamma ? gamma[ch] : 1) + (beta ? beta[ch] : 0);
  }
  return { y, mean, variance, unbiased };
}

/** Naive backward: the textbook three-term formula, written per element. */
function naiveBackward(dy: ArrayLike<number>, x: ArrayLike<number>, shape: readonly number[], gamma: ArrayLike<number> | null, eps: number) {
  const c = shape[1];
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(c), dbeta = new Float64Array(c);
  const { mean, variance } = naiveTrain(x, shape, null, null, eps);
  for (let ch = 0; ch < c; ch++) {
    const idx = channelIndices(shape, ch);
    const m = idx.length;
    const inv = 1 / Math.sqrt(variance[ch] + eps);
    const xhat = (i: number): number => (x[i] - mean[ch]) * inv;
    const g = gamma ? gamma[ch] : 1;
    const sumDy = idx.reduce((s, i) => s + dy[i], 0);
    const sumDyXhat = idx.reduce((s, i) => s + dy[i] * xhat(i), 0);
    dbeta[ch] = sumDy;
    dgamma[ch] = sumDyXhat;
    for (const i of idx) dx[i] = (g * inv / m) * (m * dy[i] - sumDy - xhat(i) * sumDyXhat);
  }
  return { dx, dgamma, dbeta };
}

const SHAPES: number[][] = [[3, 4, 5, 6], [1, 2, 7, 3], [5, 3], [8, 1, 1, 1], [2, 3, 4], [4, 6, 1, 9]];

test('batchNormTrainForward matches naive statistics (4-D, 3-D and 2-D input, float64/float32)', () => {
  const rng = new Rng(41);
  for (const dtype of ['float64', 'float32'] as Dtype[]) {
    for (const shape of SHAPES) {
      for (const affine of [true, false]) {
        const c = shape[1];
        const x = randomArray(rng, numel(shape), dtype);
        for (let i = 0; i < x.length; i++) x[i] = x[i] * 3 + 1.5;
        const gamma = affine ? randomArray(rng, c, dtype) : null;
        const beta = affine ? randomArray(rng, c, dtype) : null;
        const eps = 1e-5;
        const r = batchNormTrainForward(x, shape, gamma, beta, eps);
        const ref = naiveTrain(x, shape, gamma, beta, eps);
        const rtol = dtype === 'float64' ? 1e-12 : 1e-5;
        const what = `${dtype} [${shape}] affine ${affine}`;
        for (const a of [r.y, r.mean, r.invStd, r.varUnbiased]) assert.equal(a.constructor, x.constructor);
        assertClose(r.y, ref.y, rtol, `y ${what}`);
        assertClose(r.mean, ref.mean, rtol, `mean ${what}`);
        assertClose(r.invStd, Array.from(ref.variance, (v) => 1 / Math.sqrt(v + eps)), rtol, `invStd ${what}`);
        assertClose(r.varUnbiased, ref.unbiased, rtol, `varUnbiased ${what}`);
      }
    }
  }
});

test('batchNormTrainForward is numerically sound for a large mean (float32 data)', () => {
  const rng = new Rng(42);
  const shape = [64, 2, 8, 8];
  const x = new Float32Array(numel(shape));
  for (let i = 0; i < x.length; i++) x[i] = 10000 + rng.normal() * 0.01;
  const r = batchNormTrainForward(x, shape, null, null, 0);
  const ref = naiveTrain(Float64Array.from(x), shape, null, null, 0);
  assertClose(r.varUnbiased, ref.unbiased, 1e-5, 'variance with a large offset', Array.from(ref.unbiased, Math.abs));
  assertClose(r.y, ref.y, 1e-3, 'normalised output with a large offset');
  // A constant channel gives variance 0 and y = beta.
  const constant = batchNormTrainForward(new Float64Array(12).fill(7), [3, 2, 2], null, new Float64Array([0.5, -1]), 1e-5);
  assert.deepEqual([...constant.varUnbiased], [0, 0]);
  for (let i = 0; i < 12; i++) assert.equal(constant.y[i], Math.floor(i / 2) % 2 === 0 ? 0.5 : -1);
});

test('batchNormInferenceForward applies the given statistics', () => {
  const rng = new Rng(43);
  for (const dtype of ['float64', 'float32'] as Dtype[]) {
    for (const shape of SHAPES) {
      const c = shape[1];
      const x = randomArray(rng, numel(shape), dtype);
      const mean = randomArray(rng, c, dtype);
      const variance = cast(Array.from(randomArray(rng, c), (v) => v * v + 0.1), dtype);
      const gamma = randomArray(rng, c, dtype), beta = randomArray(rng, c, dtype);
      const y = batchNormInferenceForward(x, shape, mean, variance, gamma, beta, 1e-3);
      const s = numel(shape.slice(2));
      const expected = Array.from(x, (v, i) => {
        const ch = Math.floor(i / s) % c;
        return ((v - mean[ch]) / Math.sqrt(variance[ch] + 1e-3)) * gamma[ch] + beta[ch];
      });
      assertClose(y, expected, dtype === 'float64' ? 1e-13 : 1e-5, `inference [${shape}]`);
      const plain = batchNormInferenceForward(x, shape, mean, variance, null, null, 1e-3);
      assertClose(plain, Array.from(x, (v, i) => { const ch = Math.floor(i / s) % c; return (v - mean[ch]) / Math.sqrt(variance[ch] + 1e-3); }), 1e-5, 'no affine');
    }
  }
});

test('batchNormBackward matches the naive formula and finite differences (float64)', () => {
  const rng = new Rng(44);
  const eps = 1e-3;
  for (const shape of SHAPES) {
    for (const affine of [true, false]) {
      const c = shape[1];
      const x = randomArray(rng, numel(shape));
      const gamma = affine ? randomArray(rng, c) : null;
      const beta = affine ? randomArray(rng, c) : null;
      const dy = randomArray(rng, x.length);
      const fwd = batchNormTrainForward(x, shape, gamma, beta, eps);
      const r = batchNormBackward(dy, x, shape, fwd.mean, fwd.invStd, gamma);
      const ref = naiveBackward(dy, x, shape, gamma, eps);
      const what = `[${shape}] affine ${affine}`;
      assertClose(r.dx, ref.dx, 1e-10, `dx ${what}`);
      assertClose(r.dgamma, ref.dgamma, 1e-10, `dgamma ${what}`);
      assertClose(r.dbeta, ref.dbeta, 1e-10, `dbeta ${what}`);

      // Central differences of L = <y, dy> through the batch statistics.
      const loss = (xx: FloatArray, gg: FloatArray | null, bb: FloatArray | null): number => dot(batchNormTrainForward(xx, shape, gg, bb, eps).y, dy);
      const h = 1e-6;
      for (let t = 0; t < 6; t++) {
        const i = rng.int(x.length);
        const xp = Float64Array.from(x), xm = Float64Array.from(x);
        xp[i] += h;
        xm[i] -= h;
        assertScalarClose(r.dx[i], (loss(xp, gamma, beta) - loss(xm, gamma, beta)) / (2 * h), 1e-6, `dx[${i}] vs finite difference ${what}`, Math.max(1, Math.abs(r.dx[i])));
      }
      if (gamma && beta) {
        const ch = rng.int(c);
        const gp = Float64Array.from(gamma), gm = Float64Array.from(gamma);
        gp[ch] += h;
        gm[ch] -= h;
        assertScalarClose(r.dgamma[ch], (loss(x, gp, beta) - loss(x, gm, beta)) / (2 * h), 1e-6, `dgamma vs finite difference ${what}`, Math.max(1, Math.abs(r.dgamma[ch])));
      }
    }
  }
});

test('batchNormBackward in float32 agrees with float64', () => {
  const rng = new Rng(45);
  const shape = [4, 3, 5, 5];
  const x = randomArray(rng, numel(shape));
  const dy = randomArray(rng, x.length);
  const gamma = randomArray(rng, 3);
  const f64 = batchNormTrainForward(x, shape, gamma, null, 1e-5);
  const r64 = batchNormBackward(dy, x, shape, f64.mean, f64.invStd, gamma);
  const x32 = cast(x, 'float32'), dy32 = cast(dy, 'float32'), g32 = cast(gamma, 'float32');
  const f32 = batchNormTrainForward(x32, shape, g32, null, 1e-5);
  const r32 = batchNormBackward(dy32, x32, shape, f32.mean, f32.invStd, g32);
  assert.ok(r32.dx instanceof Float32Array && r32.dgamma instanceof Float32Array);
  assertClose(r32.dx, r64.dx, 1e-4, 'dx float32');
  assertClose(r32.dgamma, r64.dgamma, 1e-4, 'dgamma float32');
  assertClose(r32.dbeta, r64.dbeta, 1e-4, 'dbeta float32');
});
