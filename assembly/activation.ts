// Activations and their input gradients (dx = dy * f'(x)) on f32, four lanes at a time, with
// the semantics of the reference kernels in src/backends/cpu/kernels/elementwise.ts (NaN
// propagation, -0, PyTorch's choices at the kinks). See index.ts for the conventions.
//
// Transcendentals: exp by Cody-Waite reduction (x = n ln2 + r, |r| <= ln2 / 2) and a degree-7
// Taylor polynomial (truncation < 6e-9 relative), scaled by 2^n in two steps so that overflow
// and gradual underflow come out right; tanh by an odd Taylor polynomial below |x| = 0.5 and
// (1 - e) / (1 + e), e = e^-2|x|, above; erf/erfc by W. J. Cody's rational approximations (the
// same ones the reference erf uses), evaluated in f32 and only for the argument ranges present
// in a vector; gelu as x * erfc(-x / sqrt 2) / 2, which keeps its negative tail accurate.
// Derivatives avoid cancellation: 1 - sigmoid(x) = e^-x sigmoid(x) for x > 0, and
// 1 - tanh(x)^2 = 4e / (1 + e)^2. Results are within a few f32 ulps of the f64 reference
// (about 1e-7 relative where the values are not tiny; 1e-6 absolute at worst).
//
// op codes: 0 relu, 1 relu6, 2 sigmoid, 3 tanh, 4 silu, 5 gelu, 6 hardswish, 7 hardsigmoid.
// x/out (and dy/out) may be the same address.

import { loadPartial, storePartial } from './plane';

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375; // 355 / 512: n * LN2_HI is exact for |n| < 2^15
const LN2_LO: f32 = -2.12194440e-4; // ln 2 - LN2_HI
const SQRT1_2: f32 = 0.707106781186547524;
const INV_SQRT_2PI: f32 = 0.398942280401432678;
const INV_SQRT_PI: f32 = 0.564189583547756287;

@inline function splat(v: f32): v128 {
  return f32x4.splat(v);
}

/** e^x for four lanes (NaN in, NaN out; overflow to +inf; underflow through subnormals to 0). */
@inline function expv(x: v128): v128 {
  const xc = f32x4.max(f32x4.min(x, splat(88.8)), splat(-104));
  const n = f32x4.nearest(f32x4.mul(xc, splat(LOG2E)));
  let r = f32x4.sub(xc, f32x4.mul(n, splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, splat(LN2_LO)));
  // e^r = 1 + r + r^2/2! + ... + r^7/7!
  let p = f32x4.add(f32x4.mul(splat(1.0 / 5040), r), splat(1.0 / 720));
  p = f32x4.add(f32x4.mul(p, r), splat(1.0 / 120));
  p = f32x4.add(f32x4.mul(p, r), splat(1.0 / 24));
  p = f32x4.add(f32x4.mul(p, r), splat(1.0 / 6));
  p = f32x4.add(f32x4.mul(p, r), splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), splat(1));
  p = f32x4.add(f32x4.mul(p, r), splat(1));
  // 2^n = 2^n1 * 2^n2 with n1 = n >> 1: both halves are normal numbers for n in [-150, 128]
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, i32x4.splat(127)), 23);
  const s2 = i32x4.shl(i32x4.add(n2, i32x4.splat(127)), 23);
  return f32x4.mul(f32x4.mul(p, s1), s2);
}

/** 1 / (1 + e^-x). */
@inline function sigmoidv(x: v128): v128 {
  return f32x4.div(splat(1), f32x4.add(splat(1), expv(f32x4.neg(x))));
}

/**
 * 1 - sigmoid(x) without cancellation: e^-x sigmoid(x) for x > 0, else 1 - sigmoid(x).
 * s is sigmoid(x), e is e^-x.
 */
@inline function oneMinusSigmoid(x: v128, s: v128, e: v128): v128 {
  return v128.bitselect(f32x4.mul(e, s), f32x4.sub(splat(1), s), f32x4.gt(x, splat(0)));
}

/** tanh x: below |x| = 0.5 the Taylor polynomial, above (1 - e) / (1 + e) with e = e^-2|x| and the sign of x (inf gives 1, NaN stays NaN). */
@inline function tanhv(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = expv(f32x4.mul(ax, splat(-2)));
  const big = f32x4.div(f32x4.sub(splat(1), e), f32x4.add(splat(1), e));
  const signed = v128.or(big, v128.and(x, i32x4.splat(<i32>0x80000000)));
  return v128.bitselect(tanhSmall(x), signed, f32x4.lt(ax, splat(0.5)));
}

/** 1 - tanh(x)^2: 4e / (1 + e)^2 with e = e^-2|x| for |x| >= 0.5 (no cancellation), else 1 - t^2. */
@inline function tanhGradv(x: v128): v128 {
  const ax = f32x4.abs(x);
  const e = expv(f32x4.mul(ax, splat(-2)));
  const d = f32x4.add(splat(1), e);
  const big = f32x4.div(f32x4.mul(splat(4), e), f32x4.mul(d, d));
  const t = tanhSmall(x);
  return v128.bitselect(f32x4.sub(splat(1), f32x4.mul(t, t)), big, f32x4.lt(ax, splat(0.5)));
}

/** tanh x for |x| < 0.5: x + x^3 P(x^2), the Taylor series through x^15 (error < 1e-8 relative). */
@inline function tanhSmall(x: v128): v128 {
  const x2 = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(splat(-929569.0 / 638512875.0), x2), splat(21844.0 / 6081075.0));
  p = f32x4.add(f32x4.mul(p, x2), splat(-1382.0 / 155925.0));
  p = f32x4.add(f32x4.mul(p, x2), splat(62.0 / 2835.0));
  p = f32x4.add(f32x4.mul(p, x2), splat(-17.0 / 315.0));
  p = f32x4.add(f32x4.mul(p, x2), splat(2.0 / 15.0));
  p = f32x4.add(f32x4.mul(p, x2), splat(-1.0 / 3.0));
  return f32x4.add(x, f32x4.mul(f32x4.mul(x, x2), p));
}

/**
 * erfc(z) for four lanes, Cody's three ranges: |z| < 0.5: 1 - z R(z^2); 0.5 <= |z| < 4:
 * e^(-z^2) P8(|z|) / Q8(|z|); |z| >= 4: e^(-z^2) / |z| (1/sqrt(pi) - R(1/z^2) / z^2); negative z
 * via erfc(z) = 2 - erfc(-z). A range is evaluated only when some lane is in it.
 */
@inline function erfcv(z: v128): v128 {
  const az = f32x4.abs(z);
  const inSmall = f32x4.lt(az, splat(0.5));
  const inTail = f32x4.ge(az, splat(4));
  let result = splat(0);
  if (v128.any_true(inSmall)) {
    const t = f32x4.mul(z, z);
    let num = f32x4.add(f32x4.mul(splat(1.85777706184603153e-1), t), splat(3.16112374387056560));
    num = f32x4.add(f32x4.mul(num, t), splat(1.13864154151050156e2));
    num = f32x4.add(f32x4.mul(num, t), splat(3.77485237685302021e2));
    num = f32x4.add(f32x4.mul(num, t), splat(3.20937758913846947e3));
    let den = f32x4.add(t, splat(2.36012909523441209e1));
    den = f32x4.add(f32x4.mul(den, t), splat(2.44024637934444173e2));
    den = f32x4.add(f32x4.mul(den, t), splat(1.28261652607737228e3));
    den = f32x4.add(f32x4.mul(den, t), splat(2.84423683343917062e3));
    result = f32x4.sub(splat(1), f32x4.div(f32x4.mul(z, num), den));
  }
  if (!i32x4.all_true(inSmall)) {
    const e = expv(f32x4.neg(f32x4.mul(az, az)));
    let r = splat(0);
    if (!i32x4.all_true(v128.or(inSmall, inTail))) {
      let num = f32x4.add(f32x4.mul(splat(2.15311535474403846e-8), az), splat(5.64188496988670089e-1));
      num = f32x4.add(f32x4.mul(num, az), splat(8.88314979438837594));
      num = f32x4.add(f32x4.mul(num, az), splat(6.61191906371416295e1));
      num = f32x4.add(f32x4.mul(num, az), splat(2.98635138197400131e2));
      num = f32x4.add(f32x4.mul(num, az), splat(8.81952221241769090e2));
      num = f32x4.add(f32x4.mul(num, az), splat(1.71204761263407058e3));
      num = f32x4.add(f32x4.mul(num, az), splat(2.05107837782607147e3));
      num = f32x4.add(f32x4.mul(num, az), splat(1.23033935479799725e3));
      let den = f32x4.add(az, splat(1.57449261107098347e1));
      den = f32x4.add(f32x4.mul(den, az), splat(1.17693950891312499e2));
      den = f32x4.add(f32x4.mul(den, az), splat(5.37181101862009858e2));
      den = f32x4.add(f32x4.mul(den, az), splat(1.62138957456669019e3));
      den = f32x4.add(f32x4.mul(den, az), splat(3.29079923573345963e3));
      den = f32x4.add(f32x4.mul(den, az), splat(4.36261909014324716e3));
      den = f32x4.add(f32x4.mul(den, az), splat(3.43936767414372164e3));
      den = f32x4.add(f32x4.mul(den, az), splat(1.23033935480374942e3));
      r = f32x4.div(num, den);
    }
    if (v128.any_true(inTail)) {
      const t = f32x4.div(splat(1), f32x4.mul(az, az));
      let num = f32x4.add(f32x4.mul(splat(1.63153871373020978e-2), t), splat(3.05326634961232344e-1));
      num = f32x4.add(f32x4.mul(num, t), splat(3.60344899949804439e-1));
      num = f32x4.add(f32x4.mul(num, t), splat(1.25781726111229246e-1));
      num = f32x4.add(f32x4.mul(num, t), splat(1.60837851487422766e-2));
      num = f32x4.add(f32x4.mul(num, t), splat(6.58749161529837803e-4));
      let den = f32x4.add(t, splat(2.56852019228982242));
      den = f32x4.add(f32x4.mul(den, t), splat(1.87295284992346725));
      den = f32x4.add(f32x4.mul(den, t), splat(5.27905102951428412e-1));
      den = f32x4.add(f32x4.mul(den, t), splat(6.05183413124413191e-2));
      den = f32x4.add(f32x4.mul(den, t), splat(2.33520497626869185e-3));
      const tail = f32x4.div(f32x4.sub(splat(INV_SQRT_PI), f32x4.div(f32x4.mul(t, num), den)), az);
      r = v128.bitselect(tail, r, inTail);
    }
    const pos = f32x4.mul(e, r); // erfc(|z|)
    const large = v128.bitselect(f32x4.sub(splat(2), pos), pos, f32x4.lt(z, splat(0)));
    result = v128.bitselect(result, large, inSmall);
  }
  return result;
}

/** Phi(x) = P(N(0,1) <= x) = erfc(-x / sqrt 2) / 2. */
@inline function phiv(x: v128): v128 {
  return f32x4.mul(splat(0.5), erfcv(f32x4.mul(x, splat(-SQRT1_2))));
}

@inline function forward(op: i32, x: v128): v128 {
  switch (op) {
    case 0: // relu: x > 0 ? x : (NaN ? NaN : 0)
      return v128.and(x, v128.or(f32x4.gt(x, splat(0)), f32x4.ne(x, x)));
    case 1: // relu6 (wasm min/max propagate NaN and order -0 < +0 like Math.min/max)
      return f32x4.min(f32x4.max(x, splat(0)), splat(6));
    case 2:
      return sigmoidv(x);
    case 3:
      return tanhv(x);
    case 4: // silu: x / (1 + e^-x)
      return f32x4.div(x, f32x4.add(splat(1), expv(f32x4.neg(x))));
    case 5: // gelu: x Phi(x)
      return f32x4.mul(x, phiv(x));
    case 6: // hardswish: x * clamp(x + 3, 0, 6) / 6
      return f32x4.div(f32x4.mul(x, f32x4.min(f32x4.max(f32x4.add(x, splat(3)), splat(0)), splat(6))), splat(6));
    default: // hardsigmoid: clamp(x + 3, 0, 6) / 6
      return f32x4.div(f32x4.min(f32x4.max(f32x4.add(x, splat(3)), splat(0)), splat(6)), splat(6));
  }
}

/** dy * f'(x) (relu: x > 0 ? dy : 0, as the reference). */
@inline function gradient(op: i32, x: v128, dy: v128): v128 {
  switch (op) {
    case 0:
      return v128.and(dy, f32x4.gt(x, splat(0)));
    case 1: // 1 on (0, 6), else 0
      return f32x4.mul(dy, v128.and(splat(1), v128.and(f32x4.gt(x, splat(0)), f32x4.lt(x, splat(6)))));
    case 2: { // s (1 - s)
      const e = expv(f32x4.neg(x));
      const s = f32x4.div(splat(1), f32x4.add(splat(1), e));
      return f32x4.mul(dy, f32x4.mul(s, oneMinusSigmoid(x, s, e)));
    }
    case 3:
      return f32x4.mul(dy, tanhGradv(x));
    case 4: { // s (1 + x (1 - s))
      const e = expv(f32x4.neg(x));
      const s = f32x4.div(splat(1), f32x4.add(splat(1), e));
      return f32x4.mul(dy, f32x4.mul(s, f32x4.add(splat(1), f32x4.mul(x, oneMinusSigmoid(x, s, e)))));
    }
    case 5: { // Phi(x) + x phi(x)
      const pdf = f32x4.mul(splat(INV_SQRT_2PI), expv(f32x4.mul(splat(-0.5), f32x4.mul(x, x))));
      return f32x4.mul(dy, f32x4.add(phiv(x), f32x4.mul(x, pdf)));
    }
    case 6: { // x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1 (NaN: 1)
      const mid = f32x4.add(f32x4.div(x, splat(3)), splat(0.5));
      const d = v128.bitselect(mid, splat(1), f32x4.le(x, splat(3)));
      return f32x4.mul(dy, v128.bitselect(splat(0), d, f32x4.lt(x, splat(-3))));
    }
    default: // 1/6 on (-3, 3), else 0
      return f32x4.mul(dy, v128.and(splat(<f32>(1.0 / 6.0)), v128.and(f32x4.gt(x, splat(-3)), f32x4.lt(x, splat(3)))));
  }
}

@inline function forwardLoop(op: i32, x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, forward(op, v128.load(x + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    storePartial(out + o, forward(op, loadPartial(x + o, n - i)), n - i);
  }
}

@inline function gradientLoop(op: i32, x: usize, dy: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, gradient(op, v128.load(x + o), v128.load(dy + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    storePartial(out + o, gradient(op, loadPartial(x + o, n - i), loadPartial(dy + o, n - i)), n - i);
  }
}

/** out[i] = f(x[i]) for n floats; op as listed above. */
export function act_fwd(op: i32, x: usize, out: usize, n: i32): void {
  // one specialised loop per op (forwardLoop is inlined with a constant op)
  switch (op) {
    case 0: forwardLoop(0, x, out, n); break;
    case 1: forwardLoop(1, x, out, n); break;
    case 2: forwardLoop(2, x, out, n); break;
    case 3: forwardLoop(3, x, out, n); break;
    case 4: forwardLoop(4, x, out, n); break;
    case 5: forwardLoop(5, x, out, n); break;
    case 6: forwardLoop(6, x, out, n); break;
    default: forwardLoop(7, x, out, n);
  }
}

/** out[i] = dy[i] * f'(x[i]) for n floats. */
export function act_grad(op: i32, x: usize, dy: usize, out: usize, n: i32): void {
  switch (op) {
    case 0: gradientLoop(0, x, dy, out, n); break;
    case 1: gradientLoop(1, x, dy, out, n); break;
    case 2: gradientLoop(2, x, dy, out, n); break;
    case 3: gradientLoop(3, x, dy, out, n); break;
    case 4: gradientLoop(4, x, dy, out, n); break;
    case 5: gradientLoop(5, x, dy, out, n); break;
    case 6: gradientLoop(6, x, dy, out, n); break;
    default: gradientLoop(7, x, dy, out, n);
  }
}
