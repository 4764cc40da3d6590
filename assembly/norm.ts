// Batch normalisation over the channel axis of [n, c, s] f32 data (s = product of the spatial
// axes), as the reference kernels in src/backends/cpu/kernels/batchnorm.ts. See index.ts for the
// conventions.
//
// Statistics: two passes, as the reference. Sums run in f32x4 over blocks of at most BLOCK
// floats of one (sample, channel) segment and are carried in f64 across blocks, so the
// rounding of a sum is that of a BLOCK / 4-term f32 sum, not of an n * s-term one. The
// second pass sums (x - m0)^2 and (x - m0) around the f32-rounded first-pass mean m0; the
// second sum refines the mean (m = m0 + sum(x - m0) / count) and corrects the variance (the
// corrected two-pass algorithm), so both are accurate for any mean-to-spread ratio.
// y is formed as ((x - meanHi) - meanLo) * scale + beta where meanHi + meanLo is the f64 mean:
// x - meanHi is exact for x near the mean, so large means do not cost precision.

/** Floats per f32 partial sum block (per lane: BLOCK / 4 terms). */
const BLOCK: i32 = 64;

/** The two lanes of an f64x2, plus the four lanes of an f32x4 widened. */
@inline function widen(a: v128): v128 {
  return f64x2.add(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(v128.shuffle<f32>(a, a, 2, 3, 0, 1)));
}

@inline function hsum(a: v128): f64 {
  return f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
}

/** sum of the s floats at p, in f64 (f32x4 within blocks). */
function segmentSum(p: usize, s: i32): f64 {
  let acc = f64x2.splat(0);
  let i = 0;
  while (i + 4 <= s) {
    let end = i + BLOCK;
    if (end > s) end = s;
    let a = f32x4.splat(0);
    for (; i + 4 <= end; i += 4) a = f32x4.add(a, v128.load(p + (<usize>i << 2)));
    acc = f64x2.add(acc, widen(a));
  }
  let r = hsum(acc);
  for (; i < s; i++) r += <f64>load<f32>(p + (<usize>i << 2));
  return r;
}

/** Writes sum((x - m)^2) to out[0] and sum(x - m) to out[1] (f64) over the s floats at p. */
@inline function segmentDeviations(p: usize, s: i32, m: f32, out: usize): void {
  const mv = f32x4.splat(m);
  let sq = f64x2.splat(0);
  let sd = f64x2.splat(0);
  let i = 0;
  while (i + 4 <= s) {
    let end = i + BLOCK;
    if (end > s) end = s;
    let a = f32x4.splat(0);
    let b = f32x4.splat(0);
    for (; i + 4 <= end; i += 4) {
      const d = f32x4.sub(v128.load(p + (<usize>i << 2)), mv);
      a = f32x4.add(a, f32x4.mul(d, d));
      b = f32x4.add(b, d);
    }
    sq = f64x2.add(sq, widen(a));
    sd = f64x2.add(sd, widen(b));
  }
  let q = hsum(sq);
  let e = hsum(sd);
  for (; i < s; i++) {
    const d = <f64>(load<f32>(p + (<usize>i << 2)) - m);
    q += d * d;
    e += d;
  }
  store<f64>(out, load<f64>(out) + q);
  store<f64>(out, load<f64>(out, 8) + e, 8);
}

/** y = ((x - mHi) - mLo) * scale + shift over s floats. */
@inline function segmentNormalize(x: usize, y: usize, s: i32, mHi: f32, mLo: f32, scale: f32, shift: f32): void {
  const hv = f32x4.splat(mHi);
  const lv = f32x4.splat(mLo);
  const kv = f32x4.splat(scale);
  const bv = f32x4.splat(shift);
  let i = 0;
  for (; i + 4 <= s; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(f32x4.mul(f32x4.sub(f32x4.sub(v128.load(x + o), hv), lv), kv), bv));
  }
  for (; i < s; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, ((load<f32>(x + o) - mHi) - mLo) * scale + shift);
  }
}

/**
 * Training-mode forward. x, y: [n, c, s]; gamma, beta: c floats or 0 (then 1 / 0); mean,
 * invStd, varUnbiased: c floats out (varUnbiased NaN when n * s == 1); scratch: 16 bytes. Only
 * channels [c0, c1) are computed (thread-pool tasks split the channels, each with its own scratch).
 */
export function bn_train_fwd(x: usize, y: usize, gamma: usize, beta: usize, mean: usize, invStd: usize, varUnbiased: usize, scratch: usize, n: i32, c: i32, s: i32, eps: f64, c0: i32, c1: i32): void {
  const count = <f64>n * <f64>s;
  const seg = <usize>s << 2;
  const stride = <usize>(c * s) << 2;
  for (let ch = c0; ch < c1; ch++) {
    const base = <usize>ch * seg;
    let sum: f64 = 0;
    for (let b = 0; b < n; b++) sum += segmentSum(x + base + <usize>b * stride, s);
    const m0 = <f32>(sum / count);
    store<f64>(scratch, 0);
    store<f64>(scratch, 0, 8);
    for (let b = 0; b < n; b++) segmentDeviations(x + base + <usize>b * stride, s, m0, scratch);
    const sq = load<f64>(scratch);
    const comp = load<f64>(scratch, 8);
    // The deviations from m0 are (nearly) exact, so their sum refines the mean (the f32 block
    // sums of the first pass carry an error of order ulp(mean)) and corrects the variance.
    const m = <f64>m0 + comp / count;
    let m2 = sq - (comp * comp) / count;
    if (m2 < 0) m2 = 0;
    const inv = 1 / Math.sqrt(m2 / count + eps);
    const mHi = <f32>m;
    store<f32>(mean + (<usize>ch << 2), mHi);
    store<f32>(invStd + (<usize>ch << 2), <f32>inv);
    store<f32>(varUnbiased + (<usize>ch << 2), count > 1 ? <f32>(m2 / (count - 1)) : NaN);
    const g: f64 = gamma ? <f64>load<f32>(gamma + (<usize>ch << 2)) : 1;
    const bt: f32 = beta ? load<f32>(beta + (<usize>ch << 2)) : 0;
    const scale = <f32>(g * inv);
    const mLo = <f32>(m - <f64>mHi);
    for (let b = 0; b < n; b++) {
      const o = base + <usize>b * stride;
      segmentNormalize(x + o, y + o, s, mHi, mLo, scale, bt);
    }
  }
}

/** Inference-mode forward with given statistics: y = (x - mean) / sqrt(variance + eps) * gamma + beta, channels [c0, c1). */
export function bn_inference_fwd(x: usize, y: usize, mean: usize, variance: usize, gamma: usize, beta: usize, n: i32, c: i32, s: i32, eps: f64, c0: i32, c1: i32): void {
  const seg = <usize>s << 2;
  const stride = <usize>(c * s) << 2;
  for (let ch = c0; ch < c1; ch++) {
    const inv = 1 / Math.sqrt(<f64>load<f32>(variance + (<usize>ch << 2)) + eps);
    const g: f64 = gamma ? <f64>load<f32>(gamma + (<usize>ch << 2)) : 1;
    const scale = <f32>(g * inv);
    const m = load<f32>(mean + (<usize>ch << 2));
    const bt: f32 = beta ? load<f32>(beta + (<usize>ch << 2)) : 0;
    const base = <usize>ch * seg;
    for (let b = 0; b < n; b++) {
      const o = base + <usize>b * stride;
      segmentNormalize(x + o, y + o, s, m, 0, scale, bt);
    }
  }
}

/** out[0] += sum(g), out[1] += sum(g * (x - m)) over s floats (f64 across blocks). */
@inline function segmentGradSums(g: usize, x: usize, s: i32, m: f32, out: usize): void {
  const mv = f32x4.splat(m);
  let sg = f64x2.splat(0);
  let sgx = f64x2.splat(0);
  let i = 0;
  while (i + 4 <= s) {
    let end = i + BLOCK;
    if (end > s) end = s;
    let a = f32x4.splat(0);
    let b = f32x4.splat(0);
    for (; i + 4 <= end; i += 4) {
      const o = <usize>i << 2;
      const gv = v128.load(g + o);
      a = f32x4.add(a, gv);
      b = f32x4.add(b, f32x4.mul(gv, f32x4.sub(v128.load(x + o), mv)));
    }
    sg = f64x2.add(sg, widen(a));
    sgx = f64x2.add(sgx, widen(b));
  }
  let e = hsum(sg);
  let f = hsum(sgx);
  for (; i < s; i++) {
    const o = <usize>i << 2;
    const gv = <f64>load<f32>(g + o);
    e += gv;
    f += gv * <f64>(load<f32>(x + o) - m);
  }
  store<f64>(out, load<f64>(out) + e);
  store<f64>(out, load<f64>(out, 8) + f, 8);
}

/**
 * Training-mode backward through the batch statistics: dx, and dgamma = sum(dy * xhat),
 * dbeta = sum(dy) per channel (c floats each). mean, invStd as returned by bn_train_fwd;
 * gamma: c floats or 0 (then 1). scratch: 16 bytes. Channels [c0, c1) only.
 */
export function bn_bwd(dy: usize, x: usize, mean: usize, invStd: usize, gamma: usize, dx: usize, dgamma: usize, dbeta: usize, scratch: usize, n: i32, c: i32, s: i32, c0: i32, c1: i32): void {
  const count = <f64>n * <f64>s;
  const seg = <usize>s << 2;
  const stride = <usize>(c * s) << 2;
  for (let ch = c0; ch < c1; ch++) {
    const base = <usize>ch * seg;
    const m = load<f32>(mean + (<usize>ch << 2));
    const inv = <f64>load<f32>(invStd + (<usize>ch << 2));
    store<f64>(scratch, 0);
    store<f64>(scratch, 0, 8);
    for (let b = 0; b < n; b++) {
      const o = base + <usize>b * stride;
      segmentGradSums(dy + o, x + o, s, m, scratch);
    }
    const sumDy = load<f64>(scratch);
    const sumDyXc = load<f64>(scratch, 8);
    store<f32>(dbeta + (<usize>ch << 2), <f32>sumDy);
    store<f32>(dgamma + (<usize>ch << 2), <f32>(sumDyXc * inv));
    const k = (gamma ? <f64>load<f32>(gamma + (<usize>ch << 2)) : 1) * inv;
    // dx = k * (dy - meanDy - (x - mean) * c2) = (k * dy - k * meanDy) - (x - mean) * (k * c2)
    const kv = f32x4.splat(<f32>k);
    const av = f32x4.splat(<f32>(k * sumDy / count));
    const cv = f32x4.splat(<f32>(k * inv * inv * sumDyXc / count));
    const mv = f32x4.splat(m);
    for (let b = 0; b < n; b++) {
      const o = base + <usize>b * stride;
      const gp = dy + o, xp = x + o, dp = dx + o;
      let i = 0;
      for (; i + 4 <= s; i += 4) {
        const q = <usize>i << 2;
        const t = f32x4.sub(f32x4.mul(kv, v128.load(gp + q)), av);
        v128.store(dp + q, f32x4.sub(t, f32x4.mul(f32x4.sub(v128.load(xp + q), mv), cv)));
      }
      for (; i < s; i++) {
        const q = <usize>i << 2;
        const t = f32x4.extract_lane(kv, 0) * load<f32>(gp + q) - f32x4.extract_lane(av, 0);
        store<f32>(dp + q, t - (load<f32>(xp + q) - m) * f32x4.extract_lane(cv, 0));
      }
    }
  }
}
