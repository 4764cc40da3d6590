import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import {
  conv2dBackwardInput,
  conv2dBackwardWeight,
  conv2dForward,
  conv2dOutputShape,
} from '../../../../src/backends/cpu/kernels/conv2d.js';
import type { Conv2dParams } from '../../../../src/backends/cpu/kernels/types.js';
import { absDot, assertClose, assertScalarClose, cast, dot, randomArray, type Dtype } from './util.js';

type Dims = { n: number; c: number; h: number; w: number; o: number; cg: number; og: number; kh: number; kw: number; oh: number; ow: number };

function dims(p: Conv2dParams): Dims {
  const [n, c, h, w] = p.inShape;
  const [o, cg, kh, kw] = p.weightShape;
  const oh = Math.floor((h + 2 * p.padding[0] - p.dilation[0] * (kh - 1) - 1) / p.stride[0]) + 1;
  const ow = Math.floor((w + 2 * p.padding[1] - p.dilation[1] * (kw - 1) - 1) / p.stride[1]) + 1;
  return { n, c, h, w, o, cg, og: o / p.groups, kh, kw, oh, ow };
}

/**
 * Visits every (output element, weight element, input element) triple of the convolution that
 * lies inside the input: the single definition the three naive references share.
 */
function forEachTap(p: Conv2dParams, visit: (yi: number, wi: number, xi: number) => void): void {
  const d = dims(p);
  for (let b = 0; b < d.n; b++)
    for (let o = 0; o < d.o; o++) {
      const g = Math.floor(o / d.og);
      for (let oh = 0; oh < d.oh; oh++)
        for (let ow = 0; ow < d.ow; ow++) {
          const yi = ((b * d.o + o) * d.oh + oh) * d.ow + ow;
          for (let ci = 0; ci < d.cg; ci++) {
            const c = g * d.cg + ci;
            for (let ki = 0; ki < d.kh; ki++) {
              const ih = oh * p.stride[0] - p.padding[0] + ki * p.dilation[0];
              if (ih < 0 || ih >= d.h) continue;
              for (let kj = 0; kj < d.kw; kj++) {
                const iw = ow * p.stride[1] - p.padding[1] + kj * p.dilation[1];
                if (iw < 0 || iw >= d.w) continue;
                visit(yi, ((o * d.cg + ci) * d.kh + ki) * d.kw + kj, ((b * d.c + c) * d.h + ih) * d.w + iw);
              }
            }
          }
        }
    }
}

/** Naive references; each also returns the per-element sum of absolute terms (error scale). */
function naiveForward(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, p: Conv2dParams) {
  const d = dims(p);
  const y = new Float64Array(d.n * d.o * d.oh * d.ow);
  const scale = new Float64Array(y.length);
  if (bias) for (let i = 0; i < y.length; i++) {
    const o = Math.floor(i / (d.oh * d.ow)) % d.o;
    y[i] = bias[o];
    scale[i] = Math.abs(bias[o]);
  }
  forEachTap(p, (yi, wi, xi) => {
    y[yi] += x[xi] * w[wi];
    scale[yi] += Math.abs(x[xi] * w[wi]);
  });
  return { y, scale };
}

function naiveBackwardInput(dy: ArrayLike<number>, w: ArrayLike<number>, p: Conv2dParams) {
  const [n, c, h, wd] = p.inShape;
  const dx = new Float64Array(n * c * h * wd);
  const scale = new Float64Array(dx.length);
  forEachTap(p, (yi, wi, xi) => {
    dx[xi] += dy[yi] * w[wi];
    scale[xi] += Math.abs(dy[yi] * w[wi]);
  });
  return { dx, scale };
}

function naiveBackwardWeight(x: ArrayLike<number>, dy: ArrayLike<number>, p: Conv2dParams) {
  const [o, cg, kh, kw] = p.weightShape;
  const dw = new Float64Array(o * cg * kh * kw);
  const scale = new Float64Array(dw.length);
  forEachTap(p, (yi, wi, xi) => {
    dw[wi] += dy[yi] * x[xi];
    scale[wi] += Math.abs(dy[yi] * x[xi]);
  });
  return { dw, scale };
}

type GroupKind = 'dense' | 'grouped' | 'depthwise' | 'multiplier';

function makeParams(
  n: number, c: number, o: number, groups: number, kernel: [number, number], stride: [number, number],
  padding: [number, number], dilation: [number, number], extra: [number, number],
): Conv2dParams {
  const h = Math.max(1, dilation[0] * (kernel[0] - 1) + 1 - 2 * padding[0]) + extra[0];
  const w = Math.max(1, dilation[1] * (kernel[1] - 1) + 1 - 2 * padding[1]) + extra[1];
  return { inShape: [n, c, h, w], weightShape: [o, c / groups, kernel[0], kernel[1]], stride, padding, dilation, groups };
}

function randomParams(rng: Rng, kind: GroupKind): Conv2dParams {
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const kernels: [number, number][] = [[1, 1], [3, 3], [7, 7], [2, 3], [3, 1], [1, 5], [5, 2]];
  const kernel = pick(kernels);
  const stride: [number, number] = rng.next() < 0.5 ? [pick([1, 2, 3]), pick([1, 2, 3])] : ((s) => [s, s] as [number, number])(pick([1, 2, 3]));
  const padding: [number, number] = [pick([0, 1, 2]), pick([0, 1, 2])];
  const dilation: [number, number] = [pick([1, 2]), pick([1, 2])];
  const n = pick([1, 3]);
  let c: number, o: number, groups: number;
  switch (kind) {
    case 'dense': c = 1 + rng.int(4); o = 1 + rng.int(5); groups = 1; break;
    case 'grouped': groups = pick([2, 3]); c = groups * (1 + rng.int(2)); o = groups * (1 + rng.int(3)); break;
    case 'depthwise': c = 2 + rng.int(4); o = c; groups = c; break;
    case 'multiplier': c = 2 + rng.int(3); o = c * pick([2, 3]); groups = c; break;
  }
  return makeParams(n, c, o, groups, kernel, stride, padding, dilation, [rng.int(7), rng.int(7)]);
}

function describe(p: Conv2dParams): string {
  return `in [${p.inShape}] w [${p.weightShape}] s [${p.stride}] p [${p.padding}] d [${p.dilation}] g ${p.groups}`;
}

function checkAgainstNaive(rng: Rng, p: Conv2dParams, dtype: Dtype, withBias: boolean): void {
  const [n, o, oh, ow] = conv2dOutputShape(p);
  const d = dims(p);
  assert.deepEqual([n, o, oh, ow], [d.n, d.o, d.oh, d.ow], describe(p));
  const x = randomArray(rng, d.n * d.c * d.h * d.w, dtype);
  const w = randomArray(rng, d.o * d.cg * d.kh * d.kw, dtype);
  const bias = withBias ? randomArray(rng, d.o, dtype) : null;
  const dy = randomArray(rng, n * o * oh * ow, dtype);
  const rtol = dtype === 'float64' ? 1e-12 : 1e-5;
  const what = `${dtype} ${describe(p)}`;

  const y = conv2dForward(x, w, bias, p);
  assert.equal(y.constructor, x.constructor, 'output keeps the element type');
  const f = naiveForward(x, w, bias, p);
  assertClose(y, f.y, rtol, `forward ${what}`, f.scale);

  const dx = conv2dBackwardInput(dy, w, p);
  assert.equal(dx.constructor, dy.constructor);
  const bi = naiveBackwardInput(dy, w, p);
  assertClose(dx, bi.dx, rtol, `backwardInput ${what}`, bi.scale);

  const dw = conv2dBackwardWeight(x, dy, p);
  assert.equal(dw.constructor, x.constructor);
  const bw = naiveBackwardWeight(x, dy, p);
  assertClose(dw, bw.dw, rtol, `backwardWeight ${what}`, bw.scale);
}

function checkAdjoint(rng: Rng, p: Conv2dParams): void {
  const [n, o, oh, ow] = conv2dOutputShape(p);
  const [, c, h, wd] = p.inShape;
  const [, cg, kh, kw] = p.weightShape;
  const x = randomArray(rng, n * c * h * wd);
  const w = randomArray(rng, o * cg * kh * kw);
  const dy = randomArray(rng, n * o * oh * ow);
  const y = conv2dForward(x, w, null, p);
  const lhs = dot(y, dy);
  const scale = absDot(naiveForward(x.map(Math.abs), w.map(Math.abs), null, p).y, dy);
  assertScalarClose(dot(x, conv2dBackwardInput(dy, w, p)), lhs, 1e-9, `<conv(x), dy> vs <x, dX> ${describe(p)}`, scale);
  assertScalarClose(dot(w, conv2dBackwardWeight(x, dy, p)), lhs, 1e-9, `<conv(x), dy> vs <w, dW> ${describe(p)}`, scale);
}

const KINDS: GroupKind[] = ['dense', 'grouped', 'depthwise', 'multiplier'];

test('conv2d forward/backward match naive loops (float64 and float32), random geometries', () => {
  const rng = new Rng(21);
  for (const kind of KINDS) {
    for (let r = 0; r < 14; r++) {
      const p = randomParams(rng, kind);
      checkAgainstNaive(rng, p, r % 2 ? 'float32' : 'float64', r % 3 === 0);
    }
  }
});

test('conv2d backward kernels are adjoints of the forward (float64)', () => {
  const rng = new Rng(22);
  for (const kind of KINDS) for (let r = 0; r < 8; r++) checkAdjoint(rng, randomParams(rng, kind));
});

test('conv2d fixed cases: pointwise, strided 1x1, 7x7, grouped, depthwise, non-square', () => {
  const rng = new Rng(23);
  const cases: Conv2dParams[] = [
    makeParams(3, 4, 6, 1, [1, 1], [1, 1], [0, 0], [1, 1], [5, 4]), // pointwise: GEMM straight on x
    makeParams(1, 6, 4, 2, [1, 1], [1, 1], [0, 0], [2, 2], [3, 6]), // grouped pointwise (dilation is moot)
    makeParams(3, 3, 5, 1, [1, 1], [2, 2], [0, 0], [1, 1], [6, 5]), // strided 1x1
    makeParams(1, 3, 4, 1, [1, 1], [1, 1], [1, 1], [1, 1], [2, 2]), // padded 1x1
    makeParams(3, 2, 3, 1, [7, 7], [1, 1], [3, 3], [1, 1], [4, 9]), // 7x7 "same"
    makeParams(1, 3, 8, 1, [7, 7], [2, 2], [3, 3], [1, 1], [10, 3]), // ResNet stem
    makeParams(3, 4, 4, 4, [3, 3], [1, 1], [1, 1], [1, 1], [5, 6]), // depthwise 3x3
    makeParams(1, 3, 6, 3, [3, 3], [2, 1], [1, 2], [2, 1], [4, 3]), // depthwise, multiplier 2
    makeParams(3, 4, 6, 2, [2, 3], [3, 2], [2, 0], [2, 2], [1, 4]), // grouped, everything non-square
    makeParams(1, 1, 2, 1, [3, 3], [1, 1], [0, 0], [1, 1], [0, 0]), // output 1x1
    makeParams(3, 1, 8, 1, [3, 3], [1, 1], [1, 1], [1, 1], [26, 26]), // MNIST-like first layer
  ];
  for (const p of cases) {
    checkAgainstNaive(rng, p, 'float64', true);
    checkAgainstNaive(rng, p, 'float32', false);
    checkAdjoint(rng, p);
  }
});

test('conv2d result does not depend on scratch reuse across calls', () => {
  const rng = new Rng(24);
  const big = makeParams(1, 3, 4, 1, [3, 3], [1, 1], [1, 1], [1, 1], [12, 12]);
  const small = makeParams(2, 2, 3, 1, [2, 2], [1, 1], [1, 1], [1, 1], [2, 3]);
  const xs = randomArray(rng, 2 * 2 * small.inShape[2] * small.inShape[3]);
  const ws = randomArray(rng, 3 * 2 * 2 * 2);
  const first = conv2dForward(xs, ws, null, small);
  conv2dForward(randomArray(rng, 3 * big.inShape[2] * big.inShape[3]), randomArray(rng, 4 * 3 * 9), null, big);
  assert.deepEqual([...conv2dForward(xs, ws, null, small)], [...first]);
  // float32 and float64 calls interleaved share no state.
  const y32 = conv2dForward(cast(xs, 'float32'), cast(ws, 'float32'), null, small);
  assertClose(y32, first, 1e-5, 'float32 after float64');
});

test('conv2dOutputShape validates the geometry', () => {
  const ok = makeParams(2, 4, 6, 2, [3, 3], [2, 2], [1, 1], [1, 1], [5, 5]);
  assert.deepEqual(conv2dOutputShape(ok), [2, 6, 3, 3]); // (6 + 2 - 3) / 2 + 1
  assert.throws(() => conv2dOutputShape({ ...ok, groups: 3 }), /divisible/);
  assert.throws(() => conv2dOutputShape({ ...ok, weightShape: [6, 4, 3, 3] }), /input channels per group/);
  assert.throws(() => conv2dOutputShape({ ...ok, inShape: [2, 4, 2, 2], padding: [0, 0] }), /smaller than the dilated kernel/);
  assert.throws(() => conv2dOutputShape({ ...ok, stride: [0, 1] }), /stride/);
});
