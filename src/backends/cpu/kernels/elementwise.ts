import type { TypedArray } from '../../../tensor/dtype.js';
import { broadcastStrides } from '../../strides.js';

export type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum' | 'pow' | 'greater' | 'less' | 'equal';

const BINARY: Record<BinaryName, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  maximum: (a, b) => (a > b || Number.isNaN(a) ? a : b),
  minimum: (a, b) => (a < b || Number.isNaN(a) ? a : b),
  pow: (a, b) => Math.pow(a, b),
  greater: (a, b) => (a > b ? 1 : 0),
  less: (a, b) => (a < b ? 1 : 0),
  equal: (a, b) => (a === b ? 1 : 0),
};

/** out[i] = f(a[ia], b[ib]) with NumPy broadcasting; `out` is preallocated with outShape's size. */
export function binary(
  name: BinaryName,
  a: TypedArray,
  aShape: readonly number[],
  b: TypedArray,
  bShape: readonly number[],
  out: TypedArray,
  outShape: readonly number[],
): void {
  const n = out.length;
  if (a.length === n && b.length === n) {
    // Same shape: the common case (residual adds, gradient accumulation). Unrolled per op
    // so V8 does not go through a closure per element.
    switch (name) {
      case 'add': for (let i = 0; i < n; i++) out[i] = a[i] + b[i]; return;
      case 'sub': for (let i = 0; i < n; i++) out[i] = a[i] - b[i]; return;
      case 'mul': for (let i = 0; i < n; i++) out[i] = a[i] * b[i]; return;
      case 'div': for (let i = 0; i < n; i++) out[i] = a[i] / b[i]; return;
      default: {
        const f = BINARY[name];
        for (let i = 0; i < n; i++) out[i] = f(a[i], b[i]);
        return;
      }
    }
  }
  const f = BINARY[name];
  if (b.length === 1 && a.length === n) {
    const s = b[0];
    for (let i = 0; i < n; i++) out[i] = f(a[i], s);
    return;
  }
  if (a.length === 1 && b.length === n) {
    const s = a[0];
    for (let i = 0; i < n; i++) out[i] = f(s, b[i]);
    return;
  }
  const rank = outShape.length;
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  // Iterate over all axes but the last with an odometer; the innermost axis is a tight loop.
  const inner = rank ? outShape[rank - 1] : 1;
  const ia = rank ? sa[rank - 1] : 0;
  const ib = rank ? sb[rank - 1] : 0;
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let offA = 0;
  let offB = 0;
  for (let o = 0; o < n; o += inner) {
    let pa = offA;
    let pb = offB;
    // One loop per common op: a closure call per element would dominate the broadcast adds
    // and products of normalisation layers.
    switch (name) {
      case 'add': for (let j = 0; j < inner; j++, pa += ia, pb += ib) out[o + j] = a[pa] + b[pb]; break;
      case 'sub': for (let j = 0; j < inner; j++, pa += ia, pb += ib) out[o + j] = a[pa] - b[pb]; break;
      case 'mul': for (let j = 0; j < inner; j++, pa += ia, pb += ib) out[o + j] = a[pa] * b[pb]; break;
      case 'div': for (let j = 0; j < inner; j++, pa += ia, pb += ib) out[o + j] = a[pa] / b[pb]; break;
      default: for (let j = 0; j < inner; j++, pa += ia, pb += ib) out[o + j] = f(a[pa], b[pb]);
    }
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      offA += sa[d];
      offB += sb[d];
      if (index[d] < outShape[d]) break;
      offA -= sa[d] * outShape[d];
      offB -= sb[d] * outShape[d];
      index[d] = 0;
    }
  }
}

export type UnaryName =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'rsqrt' | 'abs' | 'square' | 'sign' | 'reciprocal'
  | 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'silu' | 'gelu' | 'hardswish' | 'hardsigmoid';

const SQRT1_2 = Math.SQRT1_2;

/** Abramowitz-Stegun 7.1.26 is too coarse for parity with PyTorch; use a high-accuracy erf. */
export function erf(x: number): number {
  // W. J. Cody's rational approximations (as in many libm implementations), |error| < 1e-15.
  const ax = Math.abs(x);
  let r: number;
  if (ax < 0.5) {
    const t = x * x;
    const num = ((((1.85777706184603153e-1 * t + 3.16112374387056560) * t + 1.13864154151050156e2) * t + 3.77485237685302021e2) * t + 3.20937758913846947e3);
    const den = ((((t + 2.36012909523441209e1) * t + 2.44024637934444173e2) * t + 1.28261652607737228e3) * t + 2.84423683343917062e3);
    return (x * num) / den;
  }
  if (ax < 4) {
    const num = (((((((5.64188496988670089e-1 * ax + 8.88314979438837594) * ax + 6.61191906371416295e1) * ax + 2.98635138197400131e2) * ax + 8.81952221241769090e2) * ax + 1.71204761263407058e3) * ax + 2.05107837782607147e3) * ax + 1.23033935479799725e3) + 2.15311535474403846e-8 * ax ** 8;
    const den = ((((((((ax + 1.57449261107098347e1) * ax + 1.17693950891312499e2) * ax + 5.37181101862009858e2) * ax + 1.62138957456669019e3) * ax + 3.29079923573345963e3) * ax + 4.36261909014324716e3) * ax + 3.43936767414372164e3) * ax + 1.23033935480374942e3);
    r = 1 - Math.exp(-ax * ax) * (num / den);
  } else {
    const z = 1 / (ax * ax);
    const num = (((((1.63153871373020978e-2 * z + 3.05326634961232344e-1) * z + 3.60344899949804439e-1) * z + 1.25781726111229246e-1) * z + 1.60837851487422766e-2) * z + 6.58749161529837803e-4);
    const den = (((((z + 2.56852019228982242) * z + 1.87295284992346725) * z + 5.27905102951428412e-1) * z + 6.05183413124413191e-2) * z + 2.33520497626869185e-3);
    r = 1 - (Math.exp(-ax * ax) / ax) * (1 / Math.sqrt(Math.PI) - z * (num / den));
  }
  return x < 0 ? -r : r;
}

const UNARY: Record<UnaryName, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  abs: Math.abs,
  square: (x) => x * x,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0),
  reciprocal: (x) => 1 / x,
  relu: (x) => (x > 0 ? x : x !== x ? x : 0),
  relu6: (x) => (x !== x ? x : Math.min(Math.max(x, 0), 6)),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  silu: (x) => x / (1 + Math.exp(-x)),
  gelu: (x) => 0.5 * x * (1 + erf(x * SQRT1_2)),
  hardswish: (x) => (x * Math.min(Math.max(x + 3, 0), 6)) / 6,
  hardsigmoid: (x) => Math.min(Math.max(x + 3, 0), 6) / 6,
};

export function unary(name: UnaryName, x: TypedArray, out: TypedArray): void {
  const n = x.length;
  if (name === 'relu') {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      out[i] = v > 0 ? v : v !== v ? v : 0;
    }
    return;
  }
  const f = UNARY[name];
  for (let i = 0; i < n; i++) out[i] = f(x[i]);
}

export type UnaryGradName = 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'silu' | 'gelu' | 'hardswish' | 'hardsigmoid';

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * dx = dy * f'(x). For sigmoid and tanh the derivative is taken from x as well, so every
 * activation saves only its input.
 */
const UNARY_GRAD: Record<UnaryGradName, (x: number) => number> = {
  relu: (x) => (x > 0 ? 1 : 0),
  relu6: (x) => (x > 0 && x < 6 ? 1 : 0),
  sigmoid: (x) => {
    const s = 1 / (1 + Math.exp(-x));
    return s * (1 - s);
  },
  tanh: (x) => {
    const t = Math.tanh(x);
    return 1 - t * t;
  },
  silu: (x) => {
    const s = 1 / (1 + Math.exp(-x));
    return s * (1 + x * (1 - s));
  },
  gelu: (x) => 0.5 * (1 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
  // PyTorch's hardswish derivative: 0 below -3, 1 above 3, x/3 + 0.5 between (inclusive of the ends).
  hardswish: (x) => (x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1),
  hardsigmoid: (x) => (x > -3 && x < 3 ? 1 / 6 : 0),
};

export function unaryGrad(name: UnaryGradName, x: TypedArray, dy: TypedArray, out: TypedArray): void {
  const n = x.length;
  if (name === 'relu') {
    for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? dy[i] : 0;
    return;
  }
  const f = UNARY_GRAD[name];
  for (let i = 0; i < n; i++) out[i] = dy[i] * f(x[i]);
}

/** out = x * scale + shift (scalar multiply-add: scalar arithmetic without a scalar tensor). */
export function affine(x: TypedArray, scale: number, shift: number, out: TypedArray): void {
  const n = x.length;
  for (let i = 0; i < n; i++) out[i] = x[i] * scale + shift;
}
