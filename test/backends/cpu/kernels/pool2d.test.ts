import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import {
  avgPool2dBackward,
  avgPool2dForward,
  maxPool2dBackward,
  maxPool2dForward,
  pool2dOutputShape,
} from '../../../../src/backends/cpu/kernels/pool2d.js';
import type { Pool2dParams } from '../../../../src/backends/cpu/kernels/types.js';
import { absDot, assertClose, assertScalarClose, dot, randomArray, type Dtype } from './util.js';

/** PyTorch's output-size rule, written out independently of the kernel's helper. */
function refOutSize(input: number, k: number, s: number, pad: number, d: number, ceil: boolean): number {
  const num = input + 2 * pad - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
  let out = Math.floor(num / s) + 1;
  if (ceil && (out - 1) * s >= input + pad) out--;
  return out;
}

/** A literal transcription of PyTorch's CPU max_pool2d loop (hstart clipped by whole dilation steps). */
function naiveMaxPool(x: ArrayLike<number>, p: Pool2dParams): { y: Float64Array; idx: Int32Array } {
  const [n, c, H, W] = p.inShape;
  const [kH, kW] = p.kernel, [sH, sW] = p.stride, [pH, pW] = p.padding, [dH, dW] = p.dilation;
  const oH = refOutSize(H, kH, sH, pH, dH, p.ceilMode), oW = refOutSize(W, kW, sW, pW, dW, p.ceilMode);
  const y = new Float64Array(n * c * oH * oW);
  const idx = new Int32Array(y.length);
  let o = 0;
  for (let pl = 0; pl < n * c; pl++)
    for (let oh = 0; oh < oH; oh++)
      for (let ow = 0; ow < oW; ow++, o++) {
        let hstart = oh * sH - pH, wstart = ow * sW - pW;
        const hend = Math.min(hstart + (kH - 1) * dH + 1, H), wend = Math.min(wstart + (kW - 1) * dW + 1, W);
        while (hstart < 0) hstart += dH;
        while (wstart < 0) wstart += dW;
        // PyTorch would report hstart * W + wstart even for a window with no input element (possible
        // with dilation, e.g. H = 1, k = 2, d = 2, p = 1), which may point outside the plane; the
        // kernel reports -1 there instead.
        let maxIndex = hstart < hend && wstart < wend ? hstart * W + wstart : -1;
        let maxVal = -Infinity;
        for (let yy = hstart; yy < hend; yy += dH)
          for (let xx = wstart; xx < wend; xx += dW) {
            const v = x[pl * H * W + yy * W + xx];
            if (v > maxVal || Number.isNaN(v)) {
              maxVal = v;
              maxIndex = yy * W + xx;
            }
          }
        y[o] = maxVal;
        idx[o] = maxIndex;
      }
  return { y, idx };
}

/** A literal transcription of PyTorch's CPU avg_pool2d loop (no dilation, no divisor override). */
function naiveAvgPool(x: ArrayLike<number>, p: Pool2dParams): { y: Float64Array; dx: (dy: ArrayLike<number>) => Float64Array } {
  const [n, c, H, W] = p.inShape;
  const [kH, kW] = p.kernel, [sH, sW] = p.stride, [pH, pW] = p.padding;
  const oH = refOutSize(H, kH, sH, pH, 1, p.ceilMode), oW = refOutSize(W, kW, sW, pW, 1, p.ceilMode);
  const windows: { h0: number; h1: number; w0: number; w1: number; div: number }[] = [];
  for (let oh = 0; oh < oH; oh++)
    for (let ow = 0; ow < oW; ow++) {
      let hstart = oh * sH - pH, wstart = ow * sW - pW;
      let hend = Math.min(hstart + kH, H + pH), wend = Math.min(wstart + kW, W + pW);
      const poolSize = (hend - hstart) * (wend - wstart);
      hstart = Math.max(hstart, 0);
      wstart = Math.max(wstart, 0);
      hend = Math.min(hend, H);
      wend = Math.min(wend, W);
      const div = p.countIncludePad ? poolSize : (hend - hstart) * (wend - wstart);
      windows.push({ h0: hstart, h1: hend, w0: wstart, w1: wend, div });
    }
  const y = new Float64Array(n * c * oH * oW);
  for (let pl = 0; pl < n * c; pl++)
    windows.forEach((win, i) => {
      if (win.h0 >= win.h1 || win.w0 >= win.w1) return;
      let s = 0;
      for (let yy = win.h0; yy < win.h1; yy++) for (let xx = win.w0; xx < win.w1; xx++) s += x[pl * H * W + yy * W + xx];
      y[pl * oH * oW + i] = s / win.div;
    });
  const dx = (dy: ArrayLike<number>): Float64Array => {
    const out = new Float64Array(n * c * H * W);
    for (let pl = 0; pl < n * c; pl++)
      windows.forEach((win, i) => {
        if (win.h0 >= win.h1 || win.w0 >= win.w1) return;
        for (let yy = win.h0; yy < win.h1; yy++) for (let xx = win.w0; xx < win.w1; xx++) out[pl * H * W + yy * W + xx] += dy[pl * oH * oW + i] / win.div;
      });
    return out;
  };
  return { y, dx };
}

function randomParams(rng: Rng, dilated: boolean): Pool2dParams {
  const kernel: [number, number] = [1 + rng.int(4), 1 + rng.int(4)];
  const stride: [number, number] = [1 + rng.int(3), 1 + rng.int(3)];
  // PyTorch requires padding <= kernel / 2.
  const padding: [number, number] = [rng.int(Math.floor(kernel[0] / 2) + 1), rng.int(Math.floor(kernel[1] / 2) + 1)];
  const dilation: [number, number] = dilated ? [1 + rng.int(2), 1 + rng.int(2)] : [1, 1];
  const h = Math.max(1, dilation[0] * (kernel[0] - 1) + 1 - 2 * padding[0]) + rng.int(7);
  const w = Math.max(1, dilation[1] * (kernel[1] - 1) + 1 - 2 * padding[1]) + rng.int(7);
  return {
    inShape: [[1, 3][rng.int(2)], 1 + rng.int(3), h, w],
    kernel, stride, padding, dilation,
    ceilMode: rng.next() < 0.5,
    countIncludePad: rng.next() < 0.5,
  };
}

function describe(p: Pool2dParams): string {
  return `in [${p.inShape}] k [${p.kernel}] s [${p.stride}] p [${p.padding}] d [${p.dilation}] ceil ${p.ceilMode} incl ${p.countIncludePad}`;
}

const size = (p: Pool2dParams): number => p.inShape.reduce((a, b) => a * b, 1);

test('pool2dOutputShape follows PyTorch (incl. ceilMode dropping a window that starts in the right padding)', () => {
  const base = { inShape: [1, 1, 5, 5] as const, dilation: [1, 1] as const, padding: [0, 0] as const, countIncludePad: true };
  assert.deepEqual(pool2dOutputShape({ ...base, kernel: [2, 2], stride: [2, 2], ceilMode: false }), [1, 1, 2, 2]);
  assert.deepEqual(pool2dOutputShape({ ...base, kernel: [2, 2], stride: [2, 2], ceilMode: true }), [1, 1, 3, 3]);
  // 4 wide, k3 s2 p1: ceil gives 3 windows; 5 wide, k2 s2 p1: the 4th window would start in the padding.
  assert.deepEqual(pool2dOutputShape({ ...base, inShape: [1, 1, 4, 5], kernel: [3, 2], stride: [2, 2], padding: [1, 1], ceilMode: true }), [1, 1, 3, 3]);
  const rng = new Rng(30);
  for (let r = 0; r < 200; r++) {
    const p = randomParams(rng, true);
    const [, , oh, ow] = pool2dOutputShape(p);
    assert.equal(oh, refOutSize(p.inShape[2], p.kernel[0], p.stride[0], p.padding[0], p.dilation[0], p.ceilMode), describe(p));
    assert.equal(ow, refOutSize(p.inShape[3], p.kernel[1], p.stride[1], p.padding[1], p.dilation[1], p.ceilMode), describe(p));
  }
});

test('maxPool2d forward/backward match a transcription of PyTorch (dilation, padding, ceilMode)', () => {
  const rng = new Rng(31);
  for (let r = 0; r < 120; r++) {
    const p = randomParams(rng, true);
    const dtype: Dtype = r % 2 ? 'float32' : 'float64';
    const x = randomArray(rng, size(p), dtype);
    if (r % 5 === 0) for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i]); // ties
    const { y, argmax, shape } = maxPool2dForward(x, p);
    const ref = naiveMaxPool(x, p);
    assert.deepEqual(shape, pool2dOutputShape(p));
    assert.deepEqual([...y], [...ref.y], describe(p));
    assert.deepEqual([...argmax], [...ref.idx], describe(p));

    const dy = randomArray(rng, y.length, dtype);
    const dx = maxPool2dBackward(dy, argmax, p);
    const expected = new Float64Array(dx.length);
    const plane = p.inShape[2] * p.inShape[3];
    const outPlane = shape[2] * shape[3];
    for (let o = 0; o < dy.length; o++) if (ref.idx[o] >= 0) expected[Math.floor(o / outPlane) * plane + ref.idx[o]] += dy[o];
    assertClose(dx, expected, dtype === 'float64' ? 1e-15 : 1e-6, `maxPool backward ${describe(p)}`);
    if (dtype === 'float64') {
      const finite = (a: ArrayLike<number>): number[] => Array.from(a, (v) => (Number.isFinite(v) ? v : 0));
      assertScalarClose(dot(finite(y), dy), dot(x, dx), 1e-12, 'max pool adjoint', absDot(finite(y), dy));
    }
  }
});

test('maxPool2d propagates NaN and prefers the first of equal maxima', () => {
  const p: Pool2dParams = { inShape: [1, 1, 2, 4], kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false, countIncludePad: true };
  const x = new Float32Array([1, NaN, 5, 5, 2, 3, 5, -1]);
  const { y, argmax } = maxPool2dForward(x, p);
  assert.ok(Number.isNaN(y[0]));
  assert.equal(argmax[0], 1);
  assert.equal(y[1], 5);
  assert.equal(argmax[1], 2);
  const allNegInf = maxPool2dForward(new Float64Array(8).fill(-Infinity), p);
  assert.deepEqual([...allNegInf.y], [-Infinity, -Infinity]);
  assert.deepEqual([...allNegInf.argmax], [0, 2]);
});

test('avgPool2d forward/backward match a transcription of PyTorch (countIncludePad, ceilMode)', () => {
  const rng = new Rng(32);
  for (let r = 0; r < 150; r++) {
    const p = randomParams(rng, false);
    const dtype: Dtype = r % 2 ? 'float32' : 'float64';
    const rtol = dtype === 'float64' ? 1e-14 : 1e-6;
    const x = randomArray(rng, size(p), dtype);
    const { y, shape } = avgPool2dForward(x, p);
    assert.deepEqual(shape, pool2dOutputShape(p));
    const ref = naiveAvgPool(x, p);
    assertClose(y, ref.y, rtol, `avgPool forward ${describe(p)}`);
    const dy = randomArray(rng, y.length, dtype);
    const dx = avgPool2dBackward(dy, p);
    assertClose(dx, ref.dx(dy), rtol, `avgPool backward ${describe(p)}`);
    if (dtype === 'float64') assertScalarClose(dot(y, dy), dot(x, dx), 1e-12, 'avg pool adjoint', absDot(ref.y.map(Math.abs), dy) + 1e-300);
  }
});

test('avgPool2d divisor with ceilMode + countIncludePad clips windows at input + padding (PyTorch)', () => {
  const p: Pool2dParams = { inShape: [1, 1, 4, 4], kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: true, countIncludePad: true };
  const { y, shape } = avgPool2dForward(new Float64Array(16).fill(1), p);
  assert.deepEqual(shape, [1, 1, 3, 3]);
  // Per axis: windows [-1,2) counted 3 / in-bounds 2, [1,4) 3 / 3, [3,5) 2 (clipped from [3,6)) / 1.
  const expected = [4 / 9, 6 / 9, 2 / 6, 6 / 9, 1, 3 / 6, 2 / 6, 3 / 6, 1 / 4];
  assertClose(y, expected, 1e-15, 'ceil + include pad');
  const excl = avgPool2dForward(new Float64Array(16).fill(1), { ...p, countIncludePad: false });
  assertClose(excl.y, new Array(9).fill(1), 1e-15, 'ceil + exclude pad');
});

test('avgPool2d with dilation averages the dilated taps and stays adjoint', () => {
  const rng = new Rng(33);
  for (let r = 0; r < 40; r++) {
    const p = randomParams(rng, true);
    const x = randomArray(rng, size(p));
    const { y } = avgPool2dForward(x, p);
    const dy = randomArray(rng, y.length);
    const dx = avgPool2dBackward(dy, p);
    assertScalarClose(dot(y, dy), dot(x, dx), 1e-12, `avg pool adjoint ${describe(p)}`, absDot(x, x) + absDot(dy, dy));
    // Without padding every tap is in bounds: a plain mean of the dilated window.
    if (p.padding[0] === 0 && p.padding[1] === 0 && !p.ceilMode) {
      const [, , H, W] = p.inShape;
      const [kh, kw] = p.kernel;
      let s = 0;
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) s += x[i * p.dilation[0] * W + j * p.dilation[1]];
      assertScalarClose(y[0], s / (kh * kw), 1e-12, 'dilated mean', 1 + Math.abs(s));
      void H;
    }
  }
});
