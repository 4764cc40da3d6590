// Depthwise 2-D convolution (groups == inChannels, one input channel per group, any channel
// multiplier) on NCHW f32; the plane helpers it shares with pooling are in plane.ts. See index.ts
// for the conventions (JS passes every address; nothing here allocates).
//
// Scheme. Each input plane is first copied into a scratch plane that is padded (so the inner
// loops need no bounds tests) and "phase split" along the width for strided windows: padded
// column c of a row is stored at phase c % sw, index c / sw, each phase a contiguous run of
// phaseW floats. Output column ow of tap kj then reads phase (kj*dw) % sw at index
// ow + (kj*dw) / sw, so four consecutive outputs are always one contiguous (unaligned) v128
// load, for any stride and dilation. Every kernel tap becomes one byte offset into that plane
// (a small table in scratch), and a row of outputs is sum_t w[t] * load(row + off[t] + 4*ow).
// The last, partial vector of a row is computed in full (its extra lanes read finite padding
// or the next row, never outside the scratch slack) and stored lane by lane.
//
// The input gradient is computed per stride phase of dx: each phase is a stride-1 correlation
// of the zero-padded output gradient with the flipped taps that reach it (see below); the same
// row kernel computes it. The weight gradient is a dot product per tap of the output
// gradient with the shifted scratch plane, accumulated in f32 over one row and in f64 across
// rows and images.

import { SLACK, align16, buildTaps, convRows, dotRows, fillF32, padPhasePlane, padPlane, phaseWidth, spanOf } from './plane';

// ---------------------------------------------------------------------------------------------
// Geometry of the forward / weight-gradient scratch plane.

/** Bytes of scratch dw_conv_fwd needs. */
export function dw_conv_fwd_scratch(kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, outH: i32, outW: i32): usize {
  const rows = spanOf(outH, kh, sh, dh);
  const rowStride = sw * phaseWidth(outW, kw, sw, dw);
  return align16(<usize>(kh * kw) << 2) + (<usize>(rows * rowStride + SLACK) << 2);
}

/**
 * y = depthwise conv(x, w) + bias. x: [n, c, h, wd]; w: [c * mult, 1, kh, kw]; bias: c * mult
 * floats or 0 for none; y: [n, c * mult, outH, outW]; scratch: dw_conv_fwd_scratch bytes.
 */
export function dw_conv_fwd(
  x: usize, w: usize, bias: usize, y: usize, scratch: usize,
  n: i32, c: i32, mult: i32, h: i32, wd: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32,
): void {
  dwConvFwdPlanes(x, w, bias, y, scratch, 0, n * c, c, mult, h, wd, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW);
}

/**
 * Thread-pool entry of dw_conv_fwd: input planes [p0, p1) of the n * c (plane b * c + ch), each
 * task with its own scratch. desc holds 19 i32: x, w, bias, y, n, c, mult, h, wd, kh, kw, sh,
 * sw, ph, pw, dh, dw, outH, outW (as dw_conv_fwd's arguments).
 */
export function dw_conv_fwd_planes(desc: usize, p0: i32, p1: i32, scratch: usize): void {
  dwConvFwdPlanes(<usize>descAt(desc, 0), <usize>descAt(desc, 1), <usize>descAt(desc, 2), <usize>descAt(desc, 3), scratch, p0, p1,
    descAt(desc, 5), descAt(desc, 6), descAt(desc, 7), descAt(desc, 8), descAt(desc, 9), descAt(desc, 10), descAt(desc, 11),
    descAt(desc, 12), descAt(desc, 13), descAt(desc, 14), descAt(desc, 15), descAt(desc, 16), descAt(desc, 17), descAt(desc, 18));
}

// @ts-ignore: decorator
@inline function descAt(desc: usize, i: i32): i32 {
  return load<i32>(desc + (<usize>i << 2));
}

function dwConvFwdPlanes(
  x: usize, w: usize, bias: usize, y: usize, scratch: usize, p0: i32, p1: i32,
  c: i32, mult: i32, h: i32, wd: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32,
): void {
  const ntaps = kh * kw;
  const rows = spanOf(outH, kh, sh, dh);
  const phaseW = phaseWidth(outW, kw, sw, dw);
  const rowStride = sw * phaseW;
  const taps = scratch;
  const plane = scratch + align16(<usize>ntaps << 2);
  buildTaps(taps, kh, kw, dh, dw, sw, phaseW, rowStride);
  const rowStep = <usize>(sh * rowStride) << 2;
  const inPlane = <usize>(h * wd) << 2;
  const outPlane = <usize>(outH * outW) << 2;
  // small unstrided planes: one bulk zero fill, then the rows (see padPlane)
  const bulk = sw == 1 && outW < 16;
  const o = c * mult;
  for (let p = p0; p < p1; p++) {
    const b = p / c;
    const ch = p - b * c;
    const xp = x + <usize>p * inPlane;
    if (bulk) padPlane(xp, h, wd, plane, rows, rowStride, ph, pw);
    else padPhasePlane(xp, h, wd, plane, rows, phaseW, sw, ph, pw, 0);
    for (let m = 0; m < mult; m++) {
      const oc = ch * mult + m;
      const bv: f32 = bias ? load<f32>(bias + (<usize>oc << 2)) : 0;
      convRows(plane, rowStep, taps, w + (<usize>(oc * ntaps) << 2), ntaps, bv, false, y + <usize>(b * o + oc) * outPlane, outH, outW);
    }
  }
}

/** Bytes of scratch dw_conv_bwd_weight needs. */
export function dw_conv_bwd_weight_scratch(c: i32, mult: i32, kh: i32, kw: i32, sh: i32, sw: i32, dh: i32, dw: i32, outH: i32, outW: i32): usize {
  return dw_conv_fwd_scratch(kh, kw, sh, sw, dh, dw, outH, outW) + (<usize>(c * mult * kh * kw) << 4);
}

/** dwt[c * mult, 1, kh, kw] = the weight gradient given x and dy (summed over the batch). */
export function dw_conv_bwd_weight(
  x: usize, dy: usize, dwt: usize, scratch: usize,
  n: i32, c: i32, mult: i32, h: i32, wd: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32,
): void {
  const ntaps = kh * kw;
  const rows = spanOf(outH, kh, sh, dh);
  const phaseW = phaseWidth(outW, kw, sw, dw);
  const rowStride = sw * phaseW;
  const o = c * mult;
  const acc = scratch; // o * ntaps f64x2, 16-byte aligned
  const taps = acc + (<usize>(o * ntaps) << 4);
  const plane = taps + align16(<usize>ntaps << 2);
  buildTaps(taps, kh, kw, dh, dw, sw, phaseW, rowStride);
  fillF32(acc, o * ntaps * 4, 0);
  const rowStep = <usize>(sh * rowStride) << 2;
  const inPlane = <usize>(h * wd) << 2;
  const outPlane = <usize>(outH * outW) << 2;
  // small unstrided planes: one bulk zero fill, then the rows (see padPlane)
  const bulk = sw == 1 && outW < 16;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const xp = x + <usize>(b * c + ch) * inPlane;
      if (bulk) padPlane(xp, h, wd, plane, rows, rowStride, ph, pw);
      else padPhasePlane(xp, h, wd, plane, rows, phaseW, sw, ph, pw, 0);
      for (let m = 0; m < mult; m++) {
        const oc = ch * mult + m;
        dotRows(plane, rowStep, taps, ntaps, dy + <usize>(b * o + oc) * outPlane, outH, outW, acc + (<usize>(oc * ntaps) << 4));
      }
    }
  }
  for (let i = 0; i < o * ntaps; i++) {
    const a = acc + (<usize>i << 4);
    store<f32>(dwt + (<usize>i << 2), <f32>(load<f64>(a) + load<f64>(a, 8)));
  }
}

// ---------------------------------------------------------------------------------------------
// Input gradient, by stride phases. For input row ih = qh * sh + rh, a tap ki contributes iff
// sh divides rh + ph - ki * dh, and then reads dy row qh + (rh + ph - ki * dh) / sh; likewise
// for columns. So each of the sh * sw phases of dx is a stride-1 correlation of the zero-padded
// dy plane P with the subset of (flipped) taps that hit it, at integer offsets: the row kernel
// computes it into a phase-split copy of dx (dx itself when the stride is 1), which is then
// interleaved into place. Every multiply-add is a real one (no zero-upsampled dy).

/** floor(a / b) for b > 0. */
@inline function floorDiv(a: i32, b: i32): i32 {
  const q = a / b;
  return q * b > a ? q - 1 : q;
}

/** Rows (or columns) of P above dy row 0: enough for the most negative offset. */
@inline function padBefore(k: i32, s: i32, p: i32, d: i32): i32 {
  const lo = floorDiv(p - (k - 1) * d, s);
  return lo < 0 ? -lo : 0;
}

/** Rows (or columns) of P: padding, then dy, then enough for the largest offset of the largest phase. */
@inline function paddedSpan(size: i32, out: i32, k: i32, s: i32, p: i32, d: i32): i32 {
  const hi = floorDiv(s - 1 + p, s);
  const phase = (size + s - 1) / s;
  const need = phase + (hi > 0 ? hi : 0);
  return padBefore(k, s, p, d) + (need > out ? need : out);
}

/** Bytes of scratch dw_conv_bwd_input needs. */
export function dw_conv_bwd_input_scratch(h: i32, wd: i32, kh: i32, kw: i32, sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32): usize {
  const rowsP = paddedSpan(h, outH, kh, sh, ph, dh);
  const colsP = paddedSpan(wd, outW, kw, sw, pw, dw);
  const phased: usize = sh == 1 && sw == 1 ? 0 : align16(<usize>(h * wd) << 2);
  return 3 * align16(<usize>(kh * kw) << 2) + align16(<usize>(sh * sw) << 4) + phased + (<usize>(rowsP * colsP + SLACK) << 2);
}

/** dx[n, c, h, wd] = the input gradient given dy[n, c * mult, outH, outW] and w. */
export function dw_conv_bwd_input(
  dy: usize, w: usize, dx: usize, scratch: usize,
  n: i32, c: i32, mult: i32, h: i32, wd: i32, kh: i32, kw: i32,
  sh: i32, sw: i32, ph: i32, pw: i32, dh: i32, dw: i32, outH: i32, outW: i32,
): void {
  const ntaps = kh * kw;
  const padTop = padBefore(kh, sh, ph, dh);
  const padLeft = padBefore(kw, sw, pw, dw);
  const rowsP = paddedSpan(h, outH, kh, sh, ph, dh);
  const colsP = paddedSpan(wd, outW, kw, sw, pw, dw);
  const strided = sh != 1 || sw != 1;
  // per phase (rh, rw), in order: its taps' byte offsets into P and kernel indices, in
  // increasing offset order (the flipped kernel), and a record (rows, columns, first tap,
  // tap count) in `phases`
  const taps = scratch;
  const widx = taps + align16(<usize>ntaps << 2);
  const wts = widx + align16(<usize>ntaps << 2);
  const phases = wts + align16(<usize>ntaps << 2);
  const phased = phases + align16(<usize>(sh * sw) << 4);
  const plane = phased + (strided ? align16(<usize>(h * wd) << 2) : 0);
  let nt = 0;
  for (let rh = 0; rh < sh; rh++) {
    for (let rw = 0; rw < sw; rw++) {
      const rec = phases + (<usize>(rh * sw + rw) << 4);
      store<i32>(rec, (h - rh + sh - 1) / sh);
      store<i32>(rec, (wd - rw + sw - 1) / sw, 4);
      store<i32>(rec, nt, 8);
      for (let ki = kh - 1; ki >= 0; ki--) {
        const numH = rh + ph - ki * dh;
        const offH = floorDiv(numH, sh);
        if (offH * sh != numH) continue;
        for (let kj = kw - 1; kj >= 0; kj--) {
          const numW = rw + pw - kj * dw;
          const offW = floorDiv(numW, sw);
          if (offW * sw != numW) continue;
          store<i32>(taps + (<usize>nt << 2), ((offH + padTop) * colsP + offW + padLeft) << 2);
          store<i32>(widx + (<usize>nt << 2), ki * kw + kj);
          nt++;
        }
      }
      store<i32>(rec, nt - load<i32>(rec, 8), 12);
    }
  }
  // small planes: one bulk zero fill, then the rows (fewer tiny loops than the per-row fills)
  const bulk = outW < 16;
  const rowStep = <usize>colsP << 2;
  const inPlane = <usize>(h * wd) << 2;
  const outPlane = <usize>(outH * outW) << 2;
  const o = c * mult;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const dxp = dx + <usize>(b * c + ch) * inPlane;
      for (let m = 0; m < mult; m++) {
        const oc = ch * mult + m;
        const wo = w + (<usize>(oc * ntaps) << 2);
        for (let t = 0; t < nt; t++) store<f32>(wts + (<usize>t << 2), load<f32>(wo + (<usize>load<i32>(widx + (<usize>t << 2)) << 2)));
        const g = dy + <usize>(b * o + oc) * outPlane;
        if (bulk) padPlane(g, outH, outW, plane, rowsP, colsP, padTop, padLeft);
        else padPhasePlane(g, outH, outW, plane, rowsP, colsP, 1, padTop, padLeft, 0);
        let out = strided ? phased : dxp;
        for (let q = 0; q < sh * sw; q++) {
          const rec = phases + (<usize>q << 4);
          const pH = load<i32>(rec);
          const pW = load<i32>(rec, 4);
          if (pH <= 0 || pW <= 0) continue;
          const count = load<i32>(rec, 12);
          const tp = <usize>load<i32>(rec, 8) << 2;
          if (count > 0) convRows(plane, rowStep, taps + tp, wts + tp, count, 0, m > 0, out, pH, pW);
          else if (m == 0) fillF32(out, pH * pW, 0);
          out += <usize>(pH * pW) << 2;
        }
      }
      if (strided) interleavePhases(phased, dxp, h, wd, sh, sw);
    }
  }
}

/** dst[qh * sh + rh, qw * sw + rw] = phase (rh, rw)[qh, qw], the phases stored one after another, row-major. */
function interleavePhases(src: usize, dst: usize, h: i32, w: i32, sh: i32, sw: i32): void {
  let p = src;
  for (let rh = 0; rh < sh; rh++) {
    const pH = (h - rh + sh - 1) / sh;
    if (sw == 2 && pH > 0) {
      // the two column phases of these rows, zipped four pairs at a time
      const w0 = (w + 1) >> 1;
      const w1 = w >> 1;
      const p0 = p;
      const p1 = p + (<usize>(pH * w0) << 2);
      for (let qh = 0; qh < pH; qh++) {
        const a = p0 + (<usize>(qh * w0) << 2);
        const b = p1 + (<usize>(qh * w1) << 2);
        const d = dst + (<usize>((qh * sh + rh) * w) << 2);
        let qw = 0;
        for (; qw + 4 <= w1; qw += 4) {
          const va = v128.load(a + (<usize>qw << 2));
          const vb = v128.load(b + (<usize>qw << 2));
          v128.store(d + (<usize>qw << 3), v128.shuffle<f32>(va, vb, 0, 4, 1, 5));
          v128.store(d + (<usize>qw << 3), v128.shuffle<f32>(va, vb, 2, 6, 3, 7), 16);
        }
        for (; qw < w1; qw++) {
          store<f32>(d + (<usize>(2 * qw) << 2), load<f32>(a + (<usize>qw << 2)));
          store<f32>(d + (<usize>(2 * qw + 1) << 2), load<f32>(b + (<usize>qw << 2)));
        }
        if (w0 > w1) store<f32>(d + (<usize>(2 * w1) << 2), load<f32>(a + (<usize>w1 << 2)));
      }
      p += <usize>(pH * w) << 2;
      continue;
    }
    for (let rw = 0; rw < sw; rw++) {
      const pW = (w - rw + sw - 1) / sw;
      if (pH <= 0 || pW <= 0) continue;
      for (let qh = 0; qh < pH; qh++) {
        const d = dst + (<usize>((qh * sh + rh) * w + rw) << 2);
        const q = p + (<usize>(qh * pW) << 2);
        for (let qw = 0; qw < pW; qw++) store<f32>(d + (<usize>(qw * sw) << 2), load<f32>(q + (<usize>qw << 2)));
      }
      p += <usize>(pH * pW) << 2;
    }
  }
}
