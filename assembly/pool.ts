// 2-D max and average pooling on NCHW f32 with PyTorch's semantics (padding, dilation,
// ceilMode, countIncludePad), exactly as the reference kernels in
// src/backends/cpu/kernels/pool2d.ts. See index.ts for the conventions and plane.ts for the
// padded, phase-split scratch plane that lets four neighbouring windows be read with one v128
// load per tap for any stride and dilation.
//
// Max pooling pads with -inf: a padding tap never wins (neither v > best nor v != v holds for
// -inf), so visiting every tap of the window in row-major order and starting from best = -inf,
// index = the window's first in-bounds element reproduces the reference's choice exactly
// (NaN wins, ties keep the first). Average pooling pads with zeros and sums with the depthwise
// row kernel (all-ones weights); its backward pass is the same transposed correlation as the
// depthwise input gradient, on dy / divisor.

import { SLACK, align16, buildTaps, convRows, fillF32, loadPartial, padPhasePlane, phaseWidth, spanOf, storePartial, upsamplePlane } from './plane';

/**
 * For each output position o along one axis, the first input position of its window that lies
 * inside [0, size), or -1 if none; `extra` more entries of -1 follow (vector padding).
 */
function firstInBounds(table: usize, outSize: i32, extra: i32, stride: i32, pad: i32, dilation: i32, kernel: i32, size: i32): void {
  for (let o = 0; o < outSize; o++) {
    const start = o * stride - pad;
    const lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
    let hi = size - 1 - start < 0 ? 0 : (size - 1 - start) / dilation + 1;
    if (hi > kernel) hi = kernel;
    store<i32>(table + (<usize>o << 2), lo < hi ? start + lo * dilation : -1);
  }
  for (let o = outSize; o < outSize + extra; o++) store<i32>(table + (<usize>o << 2), -1);
}

/**
 * Per-axis average-pool divisor factors (f32): with countIncludePad the taps before the end of
 * the padding (input + pad), else the in-bounds taps; 0 becomes 1 (such windows sum to 0).
 * `extra` entries of 1 follow.
 */
function divisors(table: usize, outSize: i32, extra: i32, stride: i32, pad: i32, dilation: i32, kernel: i32, size: i32, countIncludePad: bool): void {
  for (let o = 0; o < outSize; o++) {
    const start = o * stride - pad;
    let lo = start >= 0 ? 0 : (-start + dilation - 1) / dilation;
    let hi = size - 1 - start < 0 ? 0 : (size - 1 - start) / dilation + 1;
    if (hi > kernel) hi = kernel;
    if (lo > hi) lo = hi;
    let d = hi - lo;
    if (countIncludePad) {
      const limit = size + pad - 1 - start;
      d = limit < 0 ? 0 : limit / dilation + 1;
      if (d > kernel) d = kernel;
    }
    store<f32>(table + (<usize>o << 2), d == 0 ? 1 : <f32>d);
  }
  for (let o = outSize; o < outSize + extra; o++) store<f32>(table + (<usize>o << 2), 1);
}

@inline function planeFloats(kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, outH: i32, outW: i32): i32 {
  return spanOf(outH, kh, sh, dh) * sw * phaseWidth(outW, kw, sw, dw) + SLACK;
}

// ---------------------------------------------------------------------------------------------
// Max pooling

/** Bytes of scratch maxpool_fwd_planes needs (per task). */
export function maxpool_fwd_scratch(kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, outH: i32, outW: i32): usize {
  const ntaps = kh * kw;
  return 2 * align16(<usize>ntaps << 2) + align16(<usize>outH << 2) + align16(<usize>(outW + 4) << 2)
    + (<usize>planeFloats(kh, kw, sh, sw, dh, dw, outH, outW) << 2);
}

/**
 * y[n, c, outH, outW] = window maxima of x[n, c, h, w]; argmax (i32, same shape) = the index
 * ih * w + iw of each maximum within its input plane, -1 for a window with no input element.
 * Computes planes [p0, p1) of the n * c, each task with its own scratch; desc holds 17 i32:
 * x, y, argmax, n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW.
 */
export function maxpool_fwd_planes(desc: usize, p0: i32, p1: i32, scratch: usize): void {
  maxpoolFwdPlanes(<usize>load<i32>(desc), <usize>load<i32>(desc, 4), <usize>load<i32>(desc, 8), scratch, p0, p1,
    load<i32>(desc, 20), load<i32>(desc, 24), load<i32>(desc, 28), load<i32>(desc, 32), load<i32>(desc, 36), load<i32>(desc, 40),
    load<i32>(desc, 44), load<i32>(desc, 48), load<i32>(desc, 52), load<i32>(desc, 56), load<i32>(desc, 60), load<i32>(desc, 64));
}

function maxpoolFwdPlanes(
  x: usize, y: usize, argmax: usize, scratch: usize, p0: i32, p1: i32,
  h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32,
): void {
  const ntaps = kh * kw;
  const rows = spanOf(outH, kh, sh, dh);
  const phaseW = phaseWidth(outW, kw, sw, dw);
  const rowStride = sw * phaseW;
  const taps = scratch;
  const cand = taps + align16(<usize>ntaps << 2);
  const rowFirst = cand + align16(<usize>ntaps << 2);
  const colFirst = rowFirst + align16(<usize>outH << 2);
  const plane = colFirst + align16(<usize>(outW + 4) << 2);
  buildTaps(taps, kh, kw, dh, dw, sw, phaseW, rowStride);
  for (let ki = 0; ki < kh; ki++) {
    for (let kj = 0; kj < kw; kj++) store<i32>(cand + (<usize>(ki * kw + kj) << 2), ki * dh * w + kj * dw);
  }
  firstInBounds(rowFirst, outH, 0, sh, ph, dh, kh, h);
  firstInBounds(colFirst, outW, 4, sw, pw, dw, kw, w);
  const rowStep = <usize>(sh * rowStride) << 2;
  const inPlane = <usize>(h * w) << 2;
  const outPlane = <usize>(outH * outW) << 2;
  const negInf = f32x4.splat(-Infinity);
  const minusOne = i32x4.splat(-1);
  const lane = i32x4.mul(i32x4(0, 1, 2, 3), i32x4.splat(sw));
  const step = i32x4.splat(4 * sw);
  for (let pl = p0; pl < p1; pl++) {
    padPhasePlane(x + <usize>pl * inPlane, h, w, plane, rows, phaseW, sw, ph, pw, -Infinity);
    const yp = y + <usize>pl * outPlane;
    const ap = argmax + <usize>pl * outPlane;
    for (let oh = 0; oh < outH; oh++) {
      const r = plane + <usize>oh * rowStep;
      const rf = load<i32>(rowFirst + (<usize>oh << 2));
      const rowValid = i32x4.splat(rf >= 0 ? -1 : 0);
      const rowIdx = i32x4.splat(rf * w);
      const rowBase = i32x4.add(i32x4.splat((oh * sh - ph) * w - pw), lane);
      let colIdx = rowBase; // candidate index of tap (0, 0) for the four outputs at ow
      for (let ow = 0; ow < outW; ow += 4) {
        const cf = v128.load(colFirst + (<usize>ow << 2));
        let idx = v128.bitselect(i32x4.add(rowIdx, cf), minusOne, v128.and(rowValid, i32x4.ge_s(cf, i32x4.splat(0))));
        let best = negInf;
        const p = r + (<usize>ow << 2);
        for (let t = 0; t < ntaps; t++) {
          const o = <usize>(t << 2);
          const v = v128.load(p + <usize>load<i32>(taps + o));
          const m = v128.or(f32x4.gt(v, best), f32x4.ne(v, v));
          best = v128.bitselect(v, best, m);
          idx = v128.bitselect(i32x4.add(colIdx, i32x4.splat(load<i32>(cand + o))), idx, m);
        }
        const rem = outW - ow;
        const yo = yp + (<usize>(oh * outW + ow) << 2);
        const ao = ap + (<usize>(oh * outW + ow) << 2);
        if (rem >= 4) {
          v128.store(yo, best);
          v128.store(ao, idx);
        } else {
          storePartial(yo, best, rem);
          storePartial(ao, idx, rem);
        }
        colIdx = i32x4.add(colIdx, step);
      }
    }
  }
}

/**
 * dx[n, c, h, w] = dy routed to the argmax of each window (accumulating overlaps). With
 * pairs != 0 the windows are 2x2 with stride 2 and no padding or dilation (each input element
 * lies in at most one window), and dx is gathered instead: dx[ih, iw] = dy of window
 * (ih / 2, iw / 2) where that window's argmax is ih * w + iw, else 0; four lanes at a time.
 */
export function maxpool_bwd(dy: usize, argmax: usize, dx: usize, planes: i32, h: i32, w: i32, outH: i32, outW: i32, pairs: bool): void {
  const inPlane = h * w;
  const outPlane = outH * outW;
  if (pairs) {
    maxpoolBwdPairs(dy, argmax, dx, planes, h, w, outH, outW);
    return;
  }
  fillF32(dx, planes * inPlane, 0);
  for (let pl = 0; pl < planes; pl++) {
    const base = dx + (<usize>(pl * inPlane) << 2);
    const g = dy + (<usize>(pl * outPlane) << 2);
    const a = argmax + (<usize>(pl * outPlane) << 2);
    for (let i = 0; i < outPlane; i++) {
      const idx = load<i32>(a + (<usize>i << 2));
      if (idx >= 0) {
        const d = base + (<usize>idx << 2);
        store<f32>(d, load<f32>(d) + load<f32>(g + (<usize>i << 2)));
      }
    }
  }
}

function maxpoolBwdPairs(dy: usize, argmax: usize, dx: usize, planes: i32, h: i32, w: i32, outH: i32, outW: i32): void {
  // columns [0, 2 * outW) and rows [0, 2 * outH) are covered by windows (ceilMode may add a
  // last window that overhangs the input); the rest of dx is zero.
  const coveredW = 2 * outW < w ? 2 * outW : w;
  const coveredH = 2 * outH < h ? 2 * outH : h;
  const lane = i32x4(0, 1, 2, 3);
  for (let pl = 0; pl < planes; pl++) {
    const dxp = dx + (<usize>(pl * h * w) << 2);
    const gp = dy + (<usize>(pl * outH * outW) << 2);
    const ap = argmax + (<usize>(pl * outH * outW) << 2);
    for (let ih = 0; ih < h; ih++) {
      const row = dxp + (<usize>(ih * w) << 2);
      if (ih >= coveredH) {
        fillF32(row, w, 0);
        continue;
      }
      const gr = gp + (<usize>((ih >> 1) * outW) << 2);
      const ar = ap + (<usize>((ih >> 1) * outW) << 2);
      let iw = 0;
      // eight input columns (four windows) per step
      for (; iw + 8 <= coveredW; iw += 8) {
        const o = <usize>(iw >> 1) << 2;
        const a = v128.load(ar + o);
        const g = v128.load(gr + o);
        const target = i32x4.add(i32x4.splat(ih * w + iw), lane);
        const m0 = i32x4.eq(v128.shuffle<i32>(a, a, 0, 0, 1, 1), target);
        const m1 = i32x4.eq(v128.shuffle<i32>(a, a, 2, 2, 3, 3), i32x4.add(target, i32x4.splat(4)));
        v128.store(row + (<usize>iw << 2), v128.and(v128.shuffle<f32>(g, g, 0, 0, 1, 1), m0));
        v128.store(row + (<usize>iw << 2), v128.and(v128.shuffle<f32>(g, g, 2, 2, 3, 3), m1), 16);
      }
      for (; iw < coveredW; iw++) {
        const o = <usize>(iw >> 1) << 2;
        store<f32>(row + (<usize>iw << 2), load<i32>(ar + o) == ih * w + iw ? load<f32>(gr + o) : 0);
      }
      fillF32(row + (<usize>coveredW << 2), w - coveredW, 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Average pooling

/** Bytes of scratch avgpool_fwd needs. */
export function avgpool_fwd_scratch(kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, outH: i32, outW: i32): usize {
  const ntaps = kh * kw;
  return 2 * align16(<usize>ntaps << 2) + align16(<usize>outH << 2) + align16(<usize>(outW + 4) << 2)
    + (<usize>planeFloats(kh, kw, sh, sw, dh, dw, outH, outW) << 2);
}

/** y[n, c, outH, outW] = window sums of x[n, c, h, w] / divisor. */
export function avgpool_fwd(
  x: usize, y: usize, scratch: usize,
  n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32, countIncludePad: bool,
): void {
  const ntaps = kh * kw;
  const rows = spanOf(outH, kh, sh, dh);
  const phaseW = phaseWidth(outW, kw, sw, dw);
  const rowStride = sw * phaseW;
  const taps = scratch;
  const ones = taps + align16(<usize>ntaps << 2);
  const divH = ones + align16(<usize>ntaps << 2);
  const divW = divH + align16(<usize>outH << 2);
  const plane = divW + align16(<usize>(outW + 4) << 2);
  buildTaps(taps, kh, kw, dh, dw, sw, phaseW, rowStride);
  fillF32(ones, ntaps, 1);
  divisors(divH, outH, 0, sh, ph, dh, kh, h, countIncludePad);
  divisors(divW, outW, 4, sw, pw, dw, kw, w, countIncludePad);
  const rowStep = <usize>(sh * rowStride) << 2;
  const inPlane = <usize>(h * w) << 2;
  const outPlane = <usize>(outH * outW) << 2;
  for (let pl = 0; pl < n * c; pl++) {
    padPhasePlane(x + <usize>pl * inPlane, h, w, plane, rows, phaseW, sw, ph, pw, 0);
    const yp = y + <usize>pl * outPlane;
    convRows(plane, rowStep, taps, ones, ntaps, 0, false, yp, outH, outW);
    for (let oh = 0; oh < outH; oh++) {
      const dhv = v128.load32_splat(divH + (<usize>oh << 2));
      const yr = yp + (<usize>(oh * outW) << 2);
      for (let ow = 0; ow < outW; ow += 4) {
        const yo = yr + (<usize>ow << 2);
        const d = f32x4.mul(dhv, v128.load(divW + (<usize>ow << 2)));
        const rem = outW - ow;
        if (rem >= 4) v128.store(yo, f32x4.div(v128.load(yo), d));
        else storePartial(yo, f32x4.div(loadPartial(yo, rem), d), rem);
      }
    }
  }
}

/** Bytes of scratch avgpool_bwd needs. */
export function avgpool_bwd_scratch(h: i32, w: i32, kh: i32, kw: i32, dh: i32, dw: i32, outH: i32, outW: i32): usize {
  const ntaps = kh * kw;
  const uh = h + (kh - 1) * dh;
  const uw = w + (kw - 1) * dw;
  return 2 * align16(<usize>ntaps << 2) + align16(<usize>outH << 2) + align16(<usize>(outW + 4) << 2) + (<usize>(uh * uw + SLACK) << 2);
}

/** dx[n, c, h, w] = the adjoint of avgpool_fwd applied to dy[n, c, outH, outW]. */
export function avgpool_bwd(
  dy: usize, dx: usize, scratch: usize,
  n: i32, c: i32, h: i32, w: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32, countIncludePad: bool,
): void {
  const ntaps = kh * kw;
  const uh = h + (kh - 1) * dh;
  const uw = w + (kw - 1) * dw;
  const taps = scratch;
  const ones = taps + align16(<usize>ntaps << 2);
  const divH = ones + align16(<usize>ntaps << 2);
  const divW = divH + align16(<usize>outH << 2);
  const plane = divW + align16(<usize>(outW + 4) << 2);
  buildTaps(taps, kh, kw, dh, dw, 1, uw, uw);
  fillF32(ones, ntaps, 1);
  divisors(divH, outH, 0, sh, ph, dh, kh, h, countIncludePad);
  divisors(divW, outW, 4, sw, pw, dw, kw, w, countIncludePad);
  const inPlane = <usize>(h * w) << 2;
  const outPlane = <usize>(outH * outW) << 2;
  for (let pl = 0; pl < n * c; pl++) {
    upsamplePlane(dy + <usize>pl * outPlane, outH, outW, sh, sw, plane, uh, uw, (kh - 1) * dh - ph, (kw - 1) * dw - pw, divH, divW);
    convRows(plane, <usize>uw << 2, taps, ones, ntaps, 0, false, dx + <usize>pl * inPlane, h, w);
  }
}
