// Plane helpers shared by the depthwise-convolution, pooling and activation kernels
// (assembly/depthwise.ts, pool.ts, activation.ts). index.ts does not re-export this file, so
// none of these become exports of the WebAssembly module. See depthwise.ts for the padded,
// phase-split scratch-plane scheme they implement.

import { madd } from './fma';

/** Floats of slack after a scratch plane: the last vector of a row may read up to 3 floats past its end. */
export const SLACK: i32 = 16;

@inline export function align16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

/** Stores the first n (1..3) lanes of v at p. */
@inline export function storePartial(p: usize, v: v128, n: i32): void {
  if (n >= 2) {
    v128.store64_lane(p, v, 0);
    if (n == 3) v128.store32_lane(p, v, 2, 8);
  } else {
    v128.store32_lane(p, v, 0);
  }
}

/** Loads n (1..3) floats from p into the low lanes, zeros in the others; reads nothing past p + 4n. */
@inline export function loadPartial(p: usize, n: i32): v128 {
  if (n == 1) return v128.load32_zero(p);
  if (n == 2) return v128.load64_zero(p);
  return f32x4.replace_lane(v128.load64_zero(p), 2, load<f32>(p, 8));
}

/** dst[0 .. n) = v (splatted value). */
export function fillF32(dst: usize, n: i32, value: f32): void {
  const v = f32x4.splat(value);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), value);
}

/** dst[0 .. n) = src[0 .. n) (no overlap). */
export function copyF32(src: usize, dst: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, v128.load(src + o));
    v128.store(dst + o, v128.load(src + o, 16), 16);
  }
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), v128.load(src + (<usize>i << 2)));
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/**
 * Copies an h x w plane into a padded, phase-split scratch plane of `rows` rows of sw phases of
 * phaseW floats: scratch row r holds source row r - top, padded column c holds source column
 * c - left; everything outside the source is `fill`. SLACK floats of `fill` follow the plane.
 */
export function padPhasePlane(src: usize, h: i32, w: i32, dst: usize, rows: i32, phaseW: i32, sw: i32, top: i32, left: i32, fill: f32): void {
  const rowStride = sw * phaseW;
  for (let r = 0; r < rows; r++) {
    const d = dst + (<usize>(r * rowStride) << 2);
    const sr = r - top;
    if (sr < 0 || sr >= h) {
      fillF32(d, rowStride, fill);
      continue;
    }
    const s = src + (<usize>(sr * w) << 2);
    if (sw == 1) {
      let lo = left < rowStride ? left : rowStride;
      let hi = left + w < rowStride ? left + w : rowStride;
      if (hi < lo) hi = lo;
      fillF32(d, lo, fill);
      copyF32(s + (<usize>(lo - left) << 2), d + (<usize>lo << 2), hi - lo);
      fillF32(d + (<usize>hi << 2), rowStride - hi, fill);
      continue;
    }
    for (let p = 0; p < sw; p++) {
      const dp = d + (<usize>(p * phaseW) << 2);
      // phase index i holds padded column i*sw + p, i.e. source column i*sw + p - left.
      const first = left - p;
      let i0 = first <= 0 ? 0 : (first + sw - 1) / sw;
      const last = w - 1 + left - p;
      let i1 = last < 0 ? 0 : last / sw + 1;
      if (i1 > phaseW) i1 = phaseW;
      if (i0 > i1) i0 = i1;
      fillF32(dp, i0, fill);
      let i = i0;
      if (sw == 2) {
        // de-interleave 8 source floats into 4 phase floats while the loads stay inside the row
        for (; i + 4 <= i1 && (i << 1) + p - left + 8 <= w; i += 4) {
          const sp = s + (<usize>((i << 1) + p - left) << 2);
          v128.store(dp + (<usize>i << 2), v128.shuffle<f32>(v128.load(sp), v128.load(sp, 16), 0, 2, 4, 6));
        }
      }
      for (; i < i1; i++) store<f32>(dp + (<usize>i << 2), load<f32>(s + (<usize>(i * sw + p - left) << 2)));
      fillF32(dp + (<usize>i1 << 2), phaseW - i1, fill);
    }
  }
  fillF32(dst + (<usize>(rows * rowStride) << 2), SLACK, fill);
}

/**
 * Zero-padded copy of an h x w plane: dst (rows x cols, then SLACK floats) is zeroed and
 * source row r, column c is written at (r + top, c + left) where that lies inside. For small
 * planes this is cheaper than padPhasePlane's per-row fills.
 */
export function padPlane(src: usize, h: i32, w: i32, dst: usize, rows: i32, cols: i32, top: i32, left: i32): void {
  fillF32(dst, rows * cols + SLACK, 0);
  let c0 = left < 0 ? -left : 0;
  let c1 = cols - left < w ? cols - left : w;
  if (c1 <= c0) return;
  for (let r = 0; r < h; r++) {
    const dr = r + top;
    if (dr < 0 || dr >= rows) continue;
    copyF32(src + (<usize>(r * w + c0) << 2), dst + (<usize>(dr * cols + c0 + left) << 2), c1 - c0);
  }
}

/**
 * taps[ki*kw + kj] = byte offset of tap (ki, kj) in a scratch plane of row stride rowStride
 * floats whose rows are sw phases of phaseW floats (sw = 1: a plain padded plane).
 */
export function buildTaps(taps: usize, kh: i32, kw: i32, dh: i32, dw: i32, sw: i32, phaseW: i32, rowStride: i32): void {
  for (let ki = 0; ki < kh; ki++) {
    for (let kj = 0; kj < kw; kj++) {
      const c = kj * dw;
      const off = ki * dh * rowStride + (c % sw) * phaseW + c / sw;
      store<i32>(taps + (<usize>(ki * kw + kj) << 2), off << 2);
    }
  }
}

/**
 * out[oh, ow] (+)= bias + sum_t wts[t] * src[oh * rowStep + taps[t] + 4 * ow] for an outH x outW
 * plane (rowStep and taps in bytes). With accumulate the previous contents of out are added.
 */
export function convRows(src: usize, rowStep: usize, taps: usize, wts: usize, ntaps: i32, bias: f32, accumulate: bool, out: usize, outH: i32, outW: i32): void {
  if (ntaps == 9) {
    conv9Rows(src, rowStep, taps, wts, bias, accumulate, out, outH, outW);
    return;
  }
  const b = f32x4.splat(bias);
  for (let oh = 0; oh < outH; oh++) {
    const r = src + <usize>oh * rowStep;
    const y = out + (<usize>(oh * outW) << 2);
    let ow = 0;
    for (; ow + 8 <= outW; ow += 8) {
      const p = r + (<usize>ow << 2);
      let a0 = b;
      let a1 = b;
      for (let t = 0; t < ntaps; t++) {
        const wv = v128.load32_splat(wts + (<usize>t << 2));
        const q = p + <usize>load<i32>(taps + (<usize>t << 2));
        a0 = madd(wv, v128.load(q), a0);
        a1 = madd(wv, v128.load(q, 16), a1);
      }
      const yo = y + (<usize>ow << 2);
      if (accumulate) {
        a0 = f32x4.add(a0, v128.load(yo));
        a1 = f32x4.add(a1, v128.load(yo, 16));
      }
      v128.store(yo, a0);
      v128.store(yo, a1, 16);
    }
    for (; ow < outW; ow += 4) {
      const p = r + (<usize>ow << 2);
      let a0 = b;
      for (let t = 0; t < ntaps; t++) {
        const wv = v128.load32_splat(wts + (<usize>t << 2));
        a0 = madd(wv, v128.load(p + <usize>load<i32>(taps + (<usize>t << 2))), a0);
      }
      const yo = y + (<usize>ow << 2);
      const rem = outW - ow;
      if (rem >= 4) {
        if (accumulate) a0 = f32x4.add(a0, v128.load(yo));
        v128.store(yo, a0);
      } else {
        if (accumulate) a0 = f32x4.add(a0, loadPartial(yo, rem));
        storePartial(yo, a0, rem);
      }
    }
  }
}

/**
 * convRows for 3x3 kernels (any stride/dilation): taps and weights held in locals, one vector
 * per step (unrolling further makes V8 spill the weights). When the three taps of each kernel
 * row are consecutive floats (stride 1, dilation 1) the loads share one address per row.
 */
function conv9Rows(src: usize, rowStep: usize, taps: usize, wts: usize, bias: f32, accumulate: bool, out: usize, outH: i32, outW: i32): void {
  const o0 = load<i32>(taps), o3 = load<i32>(taps, 12), o6 = load<i32>(taps, 24);
  const dense = load<i32>(taps, 4) == o0 + 4 && load<i32>(taps, 8) == o0 + 8
    && load<i32>(taps, 16) == o3 + 4 && load<i32>(taps, 20) == o3 + 8
    && load<i32>(taps, 28) == o6 + 4 && load<i32>(taps, 32) == o6 + 8;
  if (dense) {
    if (accumulate) conv9DenseImpl(src, rowStep, taps, wts, bias, true, out, outH, outW);
    else conv9DenseImpl(src, rowStep, taps, wts, bias, false, out, outH, outW);
  } else {
    if (accumulate) conv9RowsImpl(src, rowStep, taps, wts, bias, true, out, outH, outW);
    else conv9RowsImpl(src, rowStep, taps, wts, bias, false, out, outH, outW);
  }
}

/** Adds a (with accumulate: plus the old contents) into the n (1..4) floats at y. */
@inline function finishVector(y: usize, a: v128, n: i32, accumulate: bool): void {
  if (n >= 4) {
    if (accumulate) a = f32x4.add(a, v128.load(y));
    v128.store(y, a);
  } else {
    if (accumulate) a = f32x4.add(a, loadPartial(y, n));
    storePartial(y, a, n);
  }
}

// @inline with a constant `accumulate` at each call site: branch-free specialisations.
@inline function conv9RowsImpl(src: usize, rowStep: usize, taps: usize, wts: usize, bias: f32, accumulate: bool, out: usize, outH: i32, outW: i32): void {
  const o0 = <usize>load<i32>(taps), o1 = <usize>load<i32>(taps, 4), o2 = <usize>load<i32>(taps, 8);
  const o3 = <usize>load<i32>(taps, 12), o4 = <usize>load<i32>(taps, 16), o5 = <usize>load<i32>(taps, 20);
  const o6 = <usize>load<i32>(taps, 24), o7 = <usize>load<i32>(taps, 28), o8 = <usize>load<i32>(taps, 32);
  const w0 = v128.load32_splat(wts), w1 = v128.load32_splat(wts, 4), w2 = v128.load32_splat(wts, 8);
  const w3 = v128.load32_splat(wts, 12), w4 = v128.load32_splat(wts, 16), w5 = v128.load32_splat(wts, 20);
  const w6 = v128.load32_splat(wts, 24), w7 = v128.load32_splat(wts, 28), w8 = v128.load32_splat(wts, 32);
  const b = f32x4.splat(bias);
  for (let oh = 0; oh < outH; oh++) {
    const r = src + <usize>oh * rowStep;
    const y = out + (<usize>(oh * outW) << 2);
    for (let ow = 0; ow < outW; ow += 4) {
      const p = r + (<usize>ow << 2);
      let s0 = madd(w0, v128.load(p + o0), b);
      let s1 = f32x4.mul(w3, v128.load(p + o3));
      let s2 = f32x4.mul(w6, v128.load(p + o6));
      s0 = madd(w1, v128.load(p + o1), s0);
      s1 = madd(w4, v128.load(p + o4), s1);
      s2 = madd(w7, v128.load(p + o7), s2);
      s0 = madd(w2, v128.load(p + o2), s0);
      s1 = madd(w5, v128.load(p + o5), s1);
      s2 = madd(w8, v128.load(p + o8), s2);
      finishVector(y + (<usize>ow << 2), f32x4.add(f32x4.add(s0, s1), s2), outW - ow, accumulate);
    }
  }
}

@inline function conv9DenseImpl(src: usize, rowStep: usize, taps: usize, wts: usize, bias: f32, accumulate: bool, out: usize, outH: i32, outW: i32): void {
  const o0 = <usize>load<i32>(taps), o3 = <usize>load<i32>(taps, 12), o6 = <usize>load<i32>(taps, 24);
  const w0 = v128.load32_splat(wts), w1 = v128.load32_splat(wts, 4), w2 = v128.load32_splat(wts, 8);
  const w3 = v128.load32_splat(wts, 12), w4 = v128.load32_splat(wts, 16), w5 = v128.load32_splat(wts, 20);
  const w6 = v128.load32_splat(wts, 24), w7 = v128.load32_splat(wts, 28), w8 = v128.load32_splat(wts, 32);
  const b = f32x4.splat(bias);
  for (let oh = 0; oh < outH; oh++) {
    const r = src + <usize>oh * rowStep;
    const y = out + (<usize>(oh * outW) << 2);
    for (let ow = 0; ow < outW; ow += 4) {
      const p = r + (<usize>ow << 2);
      const p0 = p + o0, p1 = p + o3, p2 = p + o6;
      let s0 = madd(w0, v128.load(p0), b);
      let s1 = f32x4.mul(w3, v128.load(p1));
      let s2 = f32x4.mul(w6, v128.load(p2));
      s0 = madd(w1, v128.load(p0, 4), s0);
      s1 = madd(w4, v128.load(p1, 4), s1);
      s2 = madd(w7, v128.load(p2, 4), s2);
      s0 = madd(w2, v128.load(p0, 8), s0);
      s1 = madd(w5, v128.load(p1, 8), s1);
      s2 = madd(w8, v128.load(p2, 8), s2);
      finishVector(y + (<usize>ow << 2), f32x4.add(f32x4.add(s0, s1), s2), outW - ow, accumulate);
    }
  }
}

/**
 * acc[t] += sum_{oh, ow} g[oh, ow] * src[oh * rowStep + taps[t] + 4 * ow] for every tap t, acc
 * being ntaps f64x2 pairs (the two lanes are summed by the caller). Sums run in f32 along one
 * row and in f64 across rows.
 */
export function dotRows(src: usize, rowStep: usize, taps: usize, ntaps: i32, g: usize, outH: i32, outW: i32, acc: usize): void {
  if (ntaps == 9) {
    dot9Rows(src, rowStep, taps, g, outH, outW, acc);
    return;
  }
  const zero = f32x4.splat(0);
  for (let oh = 0; oh < outH; oh++) {
    const r = src + <usize>oh * rowStep;
    const gr = g + (<usize>(oh * outW) << 2);
    for (let t = 0; t < ntaps; t++) {
      const q = r + <usize>load<i32>(taps + (<usize>t << 2));
      let a = zero;
      let ow = 0;
      for (; ow + 4 <= outW; ow += 4) a = madd(v128.load(gr + (<usize>ow << 2)), v128.load(q + (<usize>ow << 2)), a);
      if (ow < outW) a = madd(loadPartial(gr + (<usize>ow << 2), outW - ow), v128.load(q + (<usize>ow << 2)), a);
      addWide(acc + (<usize>t << 4), a);
    }
  }
}

/** acc (an f64x2 in memory) += the four lanes of a, pairwise. */
@inline function addWide(acc: usize, a: v128): void {
  const w = f64x2.add(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(v128.shuffle<f32>(a, a, 2, 3, 0, 1)));
  v128.store(acc, f64x2.add(v128.load(acc), w));
}

function dot9Rows(src: usize, rowStep: usize, taps: usize, g: usize, outH: i32, outW: i32, acc: usize): void {
  const o0 = load<i32>(taps), o3 = load<i32>(taps, 12), o6 = load<i32>(taps, 24);
  const dense = load<i32>(taps, 4) == o0 + 4 && load<i32>(taps, 8) == o0 + 8
    && load<i32>(taps, 16) == o3 + 4 && load<i32>(taps, 20) == o3 + 8
    && load<i32>(taps, 28) == o6 + 4 && load<i32>(taps, 32) == o6 + 8;
  if (dense) dot9RowsImpl(src, rowStep, taps, g, outH, outW, acc, true);
  else dot9RowsImpl(src, rowStep, taps, g, outH, outW, acc, false);
}

/** dot9Rows, one vector per step; with dense (taps (i, 0..2) at consecutive floats) the loads of a kernel row share one address. */
@inline function dot9RowsImpl(src: usize, rowStep: usize, taps: usize, g: usize, outH: i32, outW: i32, acc: usize, dense: bool): void {
  const o0 = <usize>load<i32>(taps), o1 = <usize>load<i32>(taps, 4), o2 = <usize>load<i32>(taps, 8);
  const o3 = <usize>load<i32>(taps, 12), o4 = <usize>load<i32>(taps, 16), o5 = <usize>load<i32>(taps, 20);
  const o6 = <usize>load<i32>(taps, 24), o7 = <usize>load<i32>(taps, 28), o8 = <usize>load<i32>(taps, 32);
  const zero = f32x4.splat(0);
  for (let oh = 0; oh < outH; oh++) {
    const r = src + <usize>oh * rowStep;
    const gr = g + (<usize>(oh * outW) << 2);
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero, a8 = zero;
    for (let ow = 0; ow < outW; ow += 4) {
      const rem = outW - ow;
      const gv = rem >= 4 ? v128.load(gr + (<usize>ow << 2)) : loadPartial(gr + (<usize>ow << 2), rem);
      const p = r + (<usize>ow << 2);
      if (dense) {
        const p0 = p + o0, p1 = p + o3, p2 = p + o6;
        a0 = madd(gv, v128.load(p0), a0);
        a1 = madd(gv, v128.load(p0, 4), a1);
        a2 = madd(gv, v128.load(p0, 8), a2);
        a3 = madd(gv, v128.load(p1), a3);
        a4 = madd(gv, v128.load(p1, 4), a4);
        a5 = madd(gv, v128.load(p1, 8), a5);
        a6 = madd(gv, v128.load(p2), a6);
        a7 = madd(gv, v128.load(p2, 4), a7);
        a8 = madd(gv, v128.load(p2, 8), a8);
      } else {
        a0 = madd(gv, v128.load(p + o0), a0);
        a1 = madd(gv, v128.load(p + o1), a1);
        a2 = madd(gv, v128.load(p + o2), a2);
        a3 = madd(gv, v128.load(p + o3), a3);
        a4 = madd(gv, v128.load(p + o4), a4);
        a5 = madd(gv, v128.load(p + o5), a5);
        a6 = madd(gv, v128.load(p + o6), a6);
        a7 = madd(gv, v128.load(p + o7), a7);
        a8 = madd(gv, v128.load(p + o8), a8);
      }
    }
    addWide(acc, a0);
    addWide(acc + 16, a1);
    addWide(acc + 32, a2);
    addWide(acc + 48, a3);
    addWide(acc + 64, a4);
    addWide(acc + 80, a5);
    addWide(acc + 96, a6);
    addWide(acc + 112, a7);
    addWide(acc + 128, a8);
  }
}


/**
 * Zeroes the uh x uw plane dst (plus SLACK) and writes g[oh, ow] * scale(oh, ow) at
 * (oh * sh + top, ow * sw + left) where that lies inside. With divH/divW non-zero,
 * scale(oh, ow) = 1 / (divH[oh] * divW[ow]) (f32 tables), else 1.
 */
export function upsamplePlane(g: usize, outH: i32, outW: i32, sh: i32, sw: i32, dst: usize, uh: i32, uw: i32, top: i32, left: i32, divH: usize, divW: usize): void {
  fillF32(dst, uh * uw + SLACK, 0);
  // ow range landing inside [0, uw): ow * sw + left in [0, uw)
  let ow0 = left >= 0 ? 0 : (-left + sw - 1) / sw;
  let ow1 = uw - 1 - left < 0 ? 0 : (uw - 1 - left) / sw + 1;
  if (ow1 > outW) ow1 = outW;
  if (ow0 > ow1) ow0 = ow1;
  for (let oh = 0; oh < outH; oh++) {
    const r = oh * sh + top;
    if (r < 0 || r >= uh) continue;
    const gr = g + (<usize>(oh * outW) << 2);
    const d = dst + (<usize>(r * uw + left) << 2);
    if (divH) {
      const dh = load<f32>(divH + (<usize>oh << 2));
      for (let ow = ow0; ow < ow1; ow++) {
        store<f32>(d + (<usize>(ow * sw) << 2), load<f32>(gr + (<usize>ow << 2)) / (dh * load<f32>(divW + (<usize>ow << 2))));
      }
    } else if (sw == 1) {
      copyF32(gr + (<usize>ow0 << 2), d + (<usize>ow0 << 2), ow1 - ow0);
    } else {
      for (let ow = ow0; ow < ow1; ow++) store<f32>(d + (<usize>(ow * sw) << 2), load<f32>(gr + (<usize>ow << 2)));
    }
  }
}

/** Scratch rows needed by an output of outH rows: (outH - 1) * sh + (kh - 1) * dh + 1. */
@inline export function spanOf(out: i32, k: i32, s: i32, d: i32): i32 {
  return (out - 1) * s + (k - 1) * d + 1;
}

@inline export function phaseWidth(outW: i32, kw: i32, sw: i32, dw: i32): i32 {
  return (spanOf(outW, kw, sw, dw) + sw - 1) / sw;
}
