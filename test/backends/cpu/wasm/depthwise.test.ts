// The WebAssembly depthwise convolution (src/backends/cpu/wasm/depthwise.ts) against the
// TypeScript reference twin (the depthwise path of src/backends/cpu/kernels/conv2d.ts), float32:
// forward, input gradient and weight gradient on hand-picked and seeded random geometries, and
// through the public ops in both kernel modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputShape } from '../../../../src/backends/cpu/kernels/conv2d.js';
import type { Conv2dParams } from '../../../../src/backends/cpu/kernels/types.js';
import {
  depthwiseConv2dBackwardInput,
  depthwiseConv2dBackwardWeight,
  depthwiseConv2dForward,
  isDepthwise,
} from '../../../../src/backends/cpu/wasm/depthwise.js';
import { ops, tensor, tidy, type Tensor } from '../../../../src/index.js';
import { assertClose } from '../kernels/util.js';
import { TOL, randomF32, requireWasm, withMode } from './util.js';

const abs64 = (a: ArrayLike<number>): Float64Array => Float64Array.from(a, Math.abs);

function dwParams(n: number, c: number, mult: number, h: number, w: number, kh: number, kw: number, stride: [number, number], padding: [number, number], dilation: [number, number]): Conv2dParams {
  return { inShape: [n, c, h, w], weightShape: [c * mult, 1, kh, kw], stride, padding, dilation, groups: c };
}

/**
 * Forward, input gradient and weight gradient against the reference; each error is measured
 * against the sum of |terms| behind the value (the reference on |inputs| in float64).
 */
function checkDepthwise(rng: Rng, p: Conv2dParams, withBias: boolean): void {
  const [n, c, h, w] = p.inShape;
  const [o, , kh, kw] = p.weightShape;
  const ySize = conv2dOutputShape(p).reduce((a, b) => a * b, 1);
  const x = randomF32(rng, n * c * h * w);
  const wt = randomF32(rng, o * kh * kw);
  const bias = withBias ? randomF32(rng, o) : null;
  const dy = randomF32(rng, ySize);
  const what = `depthwise ${JSON.stringify(p)}${withBias ? ' +bias' : ''}`;

  const y = depthwiseConv2dForward(x, wt, bias, p);
  assert.ok(y instanceof Float32Array && y.length === ySize, `${what}: forward output`);
  assertClose(y, conv2dForward(x, wt, bias, p), TOL, `${what} forward`, conv2dForward(abs64(x), abs64(wt), bias ? abs64(bias) : null, p));

  const dx = depthwiseConv2dBackwardInput(dy, wt, p);
  assert.equal(dx.length, n * c * h * w);
  assertClose(dx, conv2dBackwardInput(dy, wt, p), TOL, `${what} backward input`, conv2dBackwardInput(abs64(dy), abs64(wt), p));

  const dw = depthwiseConv2dBackwardWeight(x, dy, p);
  assert.equal(dw.length, o * kh * kw);
  assertClose(dw, conv2dBackwardWeight(x, dy, p), TOL, `${what} backward weight`, conv2dBackwardWeight(abs64(x), abs64(dy), p));
}

test('isDepthwise: groups == inChannels, one input channel per group, any channel multiplier', () => {
  assert.ok(isDepthwise(dwParams(1, 8, 1, 5, 5, 3, 3, [1, 1], [1, 1], [1, 1])));
  assert.ok(isDepthwise(dwParams(1, 8, 3, 5, 5, 3, 3, [1, 1], [1, 1], [1, 1])));
  assert.ok(isDepthwise(dwParams(1, 1, 2, 5, 5, 3, 3, [1, 1], [1, 1], [1, 1])));
  const grouped: Conv2dParams = { inShape: [1, 8, 5, 5], weightShape: [8, 2, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 4 };
  assert.ok(!isDepthwise(grouped));
  const dense: Conv2dParams = { inShape: [1, 8, 5, 5], weightShape: [8, 8, 3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], groups: 1 };
  assert.ok(!isDepthwise(dense));
  assert.throws(() => depthwiseConv2dForward(new Float32Array(200), new Float32Array(576), null, dense), /not a depthwise geometry/);
});

test('wasm depthwise conv2d matches the reference on hand-picked shapes', () => {
  requireWasm();
  const rng = new Rng(31);
  const cases: Conv2dParams[] = [
    dwParams(1, 3, 1, 7, 7, 3, 3, [1, 1], [1, 1], [1, 1]), // MobileNet block, tiny plane
    dwParams(3, 4, 1, 9, 11, 3, 3, [2, 2], [1, 1], [1, 1]), // stride 2, odd sizes, batch 3
    dwParams(1, 2, 2, 12, 13, 3, 3, [1, 1], [1, 1], [1, 1]), // channel multiplier 2
    dwParams(3, 3, 2, 10, 9, 3, 3, [2, 2], [1, 1], [1, 1]), // multiplier 2, stride 2
    dwParams(1, 2, 1, 14, 15, 3, 3, [1, 1], [2, 2], [2, 2]), // dilation 2
    dwParams(1, 3, 1, 17, 16, 5, 5, [1, 1], [2, 2], [1, 1]), // 5x5 (generic tap loop)
    dwParams(2, 2, 1, 19, 18, 5, 5, [2, 2], [2, 2], [1, 1]), // 5x5 stride 2
    dwParams(1, 2, 1, 13, 17, 5, 3, [2, 1], [3, 0], [2, 1]), // asymmetric everything
    dwParams(1, 4, 1, 11, 10, 3, 3, [3, 3], [1, 1], [1, 1]), // stride 3
    dwParams(1, 2, 1, 8, 8, 3, 3, [1, 1], [0, 0], [1, 1]), // no padding
    dwParams(1, 2, 1, 5, 6, 3, 3, [1, 1], [3, 3], [1, 1]), // padding larger than (k - 1) * d
    dwParams(2, 5, 3, 6, 7, 1, 1, [1, 1], [0, 0], [1, 1]), // 1x1 depthwise (a per-channel scale)
    dwParams(1, 2, 1, 9, 9, 2, 2, [2, 2], [0, 0], [1, 1]), // even kernel
    dwParams(1, 3, 1, 3, 40, 3, 3, [1, 2], [1, 1], [1, 1]), // long rows: 8-wide steps and tails
    dwParams(1, 1, 1, 1, 1, 1, 1, [1, 1], [0, 0], [1, 1]), // single element
    dwParams(1, 16, 1, 28, 28, 3, 3, [1, 1], [1, 1], [1, 1]), // a real layer
  ];
  for (const p of cases) {
    checkDepthwise(rng, p, true);
    checkDepthwise(rng, p, false);
  }
});

test('wasm depthwise conv2d matches the reference on seeded random geometries', () => {
  requireWasm();
  const rng = new Rng(32);
  let ran = 0;
  while (ran < 80) {
    const c = 1 + rng.int(4);
    const mult = [1, 1, 2, 3][rng.int(4)];
    const k = [1, 2, 3, 3, 3, 5, 7][rng.int(7)];
    const kh = rng.int(5) === 0 ? 1 + rng.int(5) : k;
    const kw = k;
    const stride: [number, number] = [1 + rng.int(3), 1 + rng.int(3)];
    if (rng.int(2) === 0) stride[1] = stride[0];
    const padding: [number, number] = [rng.int(4), rng.int(4)];
    const dil = 1 + rng.int(3);
    const dilation: [number, number] = [dil, rng.int(4) === 0 ? 1 : dil];
    const n = [1, 3][rng.int(2)];
    const h = 1 + rng.int(21);
    const w = 1 + rng.int(21);
    const p = dwParams(n, c, mult, h, w, kh, kw, stride, padding, dilation);
    try {
      conv2dOutputShape(p);
    } catch {
      continue; // the dilated kernel does not fit
    }
    checkDepthwise(rng, p, rng.int(2) === 0);
    ran++;
  }
});

test('wasm depthwise weight gradient stays accurate over long reductions (f64 across rows)', () => {
  requireWasm();
  const rng = new Rng(33);
  // 3 * 64 * 64 = 12288 terms per weight, values with a common offset so the sum does not cancel.
  const p = dwParams(3, 2, 1, 64, 64, 3, 3, [1, 1], [1, 1], [1, 1]);
  const x = randomF32(rng, 3 * 2 * 64 * 64).map((v) => 3 + v);
  const dy = randomF32(rng, 3 * 2 * 64 * 64).map((v) => 1 + 0.1 * v);
  const dw = depthwiseConv2dBackwardWeight(x, dy, p);
  const ref = conv2dBackwardWeight(Float64Array.from(x), Float64Array.from(dy), p); // float64 sums
  assertClose(dw, ref, 2e-7, 'long reduction');
});

// ---------------------------------------------------------------------------------------------
// Through the public ops

function f32Tensor(rng: Rng, shape: number[], grad = false): Tensor {
  const t = tensor(randomF32(rng, shape.reduce((a, b) => a * b, 1)), shape);
  return grad ? t.requiresGrad_() : t;
}

test('depthwise conv2d through the ops: both kernel modes agree, and the wasm kernels reproduce the ops (values and gradients)', () => {
  requireWasm();
  const rng = new Rng(34);
  const configs: { x: number[]; mult: number; k: number; opts: ops.Conv2dOptions }[] = [
    { x: [2, 4, 9, 9], mult: 1, k: 3, opts: { padding: 1 } },
    { x: [3, 3, 11, 10], mult: 2, k: 3, opts: { padding: 1, stride: 2 } },
    { x: [1, 2, 13, 12], mult: 1, k: 5, opts: { padding: 4, dilation: 2 } },
  ];
  for (const c of configs) {
    const C = c.x[1];
    const x = f32Tensor(rng, c.x, true);
    const w = f32Tensor(rng, [C * c.mult, 1, c.k, c.k], true);
    const bias = f32Tensor(rng, [C * c.mult], true);
    const opts = { ...c.opts, groups: C };
    const probe = tidy(() => ops.conv2d(x, w, bias, opts));
    const r = f32Tensor(rng, [...probe.shape]);
    probe.dispose();
    const run = (): Float32Array[] => {
      for (const t of [x, w, bias]) {
        t.grad?.dispose();
        t.grad = null;
      }
      const y = ops.conv2d(x, w, bias, opts);
      ops.sum(ops.mul(y, r)).backward();
      const out = [y.dataSync() as Float32Array, x.grad!.dataSync() as Float32Array, w.grad!.dataSync() as Float32Array];
      y.dispose();
      return out;
    };
    const what = `depthwise conv2d x=${c.x} mult=${c.mult} ${JSON.stringify(opts)}`;
    const ref = withMode('reference', run);
    const got = withMode('wasm', run);
    got.forEach((g, i) => assertClose(g, ref[i], TOL, `${what} [modes, output ${i}]`));

    // The kernels the lead wires into conv2d reproduce the op's values and gradients.
    const p: Conv2dParams = {
      inShape: c.x as [number, number, number, number],
      weightShape: [C * c.mult, 1, c.k, c.k],
      stride: [opts.stride ?? 1, opts.stride ?? 1] as [number, number],
      padding: [opts.padding, opts.padding] as [number, number],
      dilation: [opts.dilation ?? 1, opts.dilation ?? 1] as [number, number],
      groups: C,
    };
    assert.ok(isDepthwise(p));
    const xv = x.dataSync() as Float32Array;
    const wv = w.dataSync() as Float32Array;
    const rv = r.dataSync() as Float32Array;
    assertClose(depthwiseConv2dForward(xv, wv, bias.dataSync() as Float32Array, p), ref[0], TOL, `${what} [kernel forward]`);
    assertClose(depthwiseConv2dBackwardInput(rv, wv, p), ref[1], TOL, `${what} [kernel dx]`);
    assertClose(depthwiseConv2dBackwardWeight(xv, rv, p), ref[2], TOL, `${what} [kernel dw]`);
    for (const t of [x, w, bias, r]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
});

test('depthwise forward split over the thread pool equals the single-threaded result bit for bit', async () => {
  requireWasm();
  const { setNumThreads } = await import('../../../../src/index.js');
  const rng = new Rng(41);
  for (const p of [dwParams(2, 24, 1, 30, 29, 3, 3, [1, 1], [1, 1], [1, 1]), dwParams(1, 40, 2, 33, 33, 5, 5, [2, 2], [2, 2], [1, 1])]) {
    const x = randomF32(rng, p.inShape.reduce((a, b) => a * b, 1));
    const w = randomF32(rng, p.weightShape.reduce((a, b) => a * b, 1));
    const bias = randomF32(rng, p.weightShape[0]);
    await setNumThreads(1);
    const one = depthwiseConv2dForward(x, w, bias, p).slice();
    await setNumThreads(2);
    const two = depthwiseConv2dForward(x, w, bias, p).slice();
    await setNumThreads(1);
    assert.deepEqual(two, one);
  }
});
