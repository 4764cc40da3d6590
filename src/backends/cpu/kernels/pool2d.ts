/**
 * 2-D max and average pooling on NCHW arrays with PyTorch's semantics (MaxPool2d / AvgPool2d):
 * implicit padding (-inf for max, zeros for average), dilation, ceilMode (the last window must start
 * inside the input or the left padding) and countIncludePad.
 *
 * Max-pool `argmax` holds, for each output element, the flat index ih * W + iw of the chosen input
 * element within its own input plane (exactly PyTorch's `return_indices` convention), or -1 if the
 * window contained no input element at all (only possible for degenerate geometries; such outputs
 * are -inf and receive no gradient).
 */
import { allocLike, outputSize, type FloatArray, type Pool2dParams } from './types.js';

/** [batch, channels, outH, outW] of a pooling window; throws on inconsistent geometry. */
export function pool2dOutputShape(p: Pool2dParams): [number, number, number, number] {
  const [n, c, h, w] = p.inShape;
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  const [dh, dw] = p.dilation;
  if (kh < 1 || kw < 1 || sh < 1 || sw < 1 || dh < 1 || dw < 1 || ph < 0 || pw < 0) {
    throw new Error('pool2d: kernel, stride and dilation must be >= 1 and padding >= 0');
  }
  const oh = outputSize(h, kh, sh, ph, dh, p.ceilMode);
  const ow = outputSize(w, kw, sw, pw, dw, p.ceilMode);
  if (oh < 1 || ow < 1) throw new Error(`pool2d: input ${h}x${w} is too small for a ${kh}x${kw} window`);
  return [n, c, oh, ow];
}

/**
 * Max pooling. NaN propagates as in PyTorch (a NaN in the window wins); ties keep the first
 * element in row-major window order.
 */
export function maxPool2dForward(x: FloatArray, p: Pool2dParams): { y: FloatArray; argmax: Int32Array; shape: [number, number, number, number] } {
  const shape = pool2dOutputShape(p);
  const [n, c, outH, outW] = shape;
  const [, , h, w] = p.inShape;
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  const [dh, dw] = p.dilation;
  const plane = h * w;
  if (x.length < n * c * plane) throw new Error(`pool2d: x has ${x.length} elements, expected ${n * c * plane}`);
  const y = allocLike(x, n * c * outH * outW);
  const argmax = new Int32Array(n * c * outH * outW);
  // First and one-past-last tap index of each window that lands inside the input, per axis.
  const hLo = new Int32Array(outH), hHi = new Int32Array(outH);
  const wLo = new Int32Array(outW), wHi = new Int32Array(outW);
  tapRanges(outH, sh, ph, dh, kh, h, hLo, hHi);
  tapRanges(outW, sw, pw, dw, kw, w, wLo, wHi);
  let out = 0;
  for (let pl = 0; pl < n * c; pl++) {
    const base = pl * plane;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * sh - ph;
      const kiLo = hLo[oh], kiHi = hHi[oh];
      for (let ow = 0; ow < outW; ow++, out++) {
        const w0 = ow * sw - pw;
        const kjLo = wLo[ow], kjHi = wHi[ow];
        let best = -Infinity;
        let bestIdx = -1;
        if (kiLo < kiHi && kjLo < kjHi) {
          bestIdx = (h0 + kiLo * dh) * w + w0 + kjLo * dw;
          for (let ki = kiLo; ki < kiHi; ki++) {
            const rowIdx = (h0 + ki * dh) * w + w0;
            for (let kj = kjLo; kj < kjHi; kj++) {
              const idx = rowIdx + kj * dw;
              const v = x[base + idx];
              if (v > best || v !== v) {
                best = v;
                bestIdx = idx;
              }
            }
          }
        }
        y[out] = best;
        argmax[out] = bestIdx;
      }
    }
  }
  return { y, argmax, shape };
}

/** Routes each dy element to the input element its forward pass picked (accumulating overlaps). */
export function maxPool2dBackward(dy: FloatArray, argmax: Int32Array, p: Pool2dParams): FloatArray {
  const [n, c, outH, outW] = pool2dOutputShape(p);
  const [, , h, w] = p.inShape;
  const plane = h * w;
  const outPlane = outH * outW;
  if (dy.length < n * c * outPlane || argmax.length < n * c * outPlane) throw new Error('maxPool2dBackward: dy/argmax size mismatch');
  const dx = allocLike(dy, n * c * plane);
  let out = 0;
  for (let pl = 0; pl < n * c; pl++) {
    const base = pl * plane;
    for (let i = 0; i < outPlane; i++, out++) {
      const idx = argmax[out];
      if (idx >= 0) dx[base + idx] += dy[out];
    }
  }
  return dx;
}

/**
 * Average pooling. For each window, "in-bounds" taps are those inside the input; "counted" taps
 * are those before the end of the right/bottom padding (input + padding). With countIncludePad the
 * divisor is the number of counted taps (so a ceilMode window running past the padded edge is
 * clipped there, as in PyTorch), otherwise the number of in-bounds taps. Windows with no in-bounds
 * tap produce 0. PyTorch's AvgPool2d has no dilation; dilation here generalises the same rule.
 */
export function avgPool2dForward(x: FloatArray, p: Pool2dParams): { y: FloatArray; shape: [number, number, number, number] } {
  const shape = pool2dOutputShape(p);
  const [n, c, outH, outW] = shape;
  const [, , h, w] = p.inShape;
  const plane = h * w;
  if (x.length < n * c * plane) throw new Error(`pool2d: x has ${x.length} elements, expected ${n * c * plane}`);
  const g = avgGeometry(p, outH, outW);
  const y = allocLike(x, n * c * outH * outW);
  const [dh, dw] = p.dilation;
  let out = 0;
  for (let pl = 0; pl < n * c; pl++) {
    const base = pl * plane;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * g.sh - g.ph;
      const kiLo = g.hLo[oh], kiHi = g.hHi[oh];
      for (let ow = 0; ow < outW; ow++, out++) {
        const kjLo = g.wLo[ow], kjHi = g.wHi[ow];
        if (kiLo >= kiHi || kjLo >= kjHi) continue;
        const w0 = base + ow * g.sw - g.pw;
        let s = 0;
        for (let ki = kiLo; ki < kiHi; ki++) {
          const row = (h0 + ki * dh) * w + w0;
          for (let kj = kjLo; kj < kjHi; kj++) s += x[row + kj * dw];
        }
        y[out] = s / divisor(g, oh, ow);
      }
    }
  }
  return { y, shape };
}

/** The adjoint of `avgPool2dForward`: spreads dy / divisor over each window's in-bounds taps. */
export function avgPool2dBackward(dy: FloatArray, p: Pool2dParams): FloatArray {
  const [n, c, outH, outW] = pool2dOutputShape(p);
  const [, , h, w] = p.inShape;
  const plane = h * w;
  if (dy.length < n * c * outH * outW) throw new Error('avgPool2dBackward: dy size mismatch');
  const g = avgGeometry(p, outH, outW);
  const dx = allocLike(dy, n * c * plane);
  const [dh, dw] = p.dilation;
  let out = 0;
  for (let pl = 0; pl < n * c; pl++) {
    const base = pl * plane;
    for (let oh = 0; oh < outH; oh++) {
      const h0 = oh * g.sh - g.ph;
      const kiLo = g.hLo[oh], kiHi = g.hHi[oh];
      for (let ow = 0; ow < outW; ow++, out++) {
        const kjLo = g.wLo[ow], kjHi = g.wHi[ow];
        if (kiLo >= kiHi || kjLo >= kjHi) continue;
        const v = dy[out] / divisor(g, oh, ow);
        const w0 = base + ow * g.sw - g.pw;
        for (let ki = kiLo; ki < kiHi; ki++) {
          const row = (h0 + ki * dh) * w + w0;
          for (let kj = kjLo; kj < kjHi; kj++) dx[row + kj * dw] += v;
        }
      }
    }
  }
  return dx;
}

/**
 * For each output position o along one axis, the taps k in [lo[o], hi[o]) whose input position
 * o * stride - pad + k * dilation lies inside [0, size).
 */
function tapRanges(outSize: number, stride: number, pad: number, dilation: number, kernel: number, size: number, lo: Int32Array, hi: Int32Array): void {
  for (let o = 0; o < outSize; o++) {
    const start = o * stride - pad;
    // start + k * dilation >= 0  and  start + k * dilation <= size - 1
    let a = start >= 0 ? 0 : Math.ceil(-start / dilation);
    let b = size - 1 - start < 0 ? 0 : Math.floor((size - 1 - start) / dilation) + 1;
    if (b > kernel) b = kernel;
    if (a > b) a = b;
    lo[o] = a;
    hi[o] = b;
  }
}

/** Taps counted by countIncludePad along one axis: those with position < size + pad. */
function countedTaps(outSize: number, stride: number, pad: number, dilation: number, kernel: number, size: number): Int32Array {
  const counted = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const start = o * stride - pad; // always >= -pad, so the left padding is always counted
    const limit = size + pad - 1 - start;
    const k = limit < 0 ? 0 : Math.floor(limit / dilation) + 1;
    counted[o] = Math.min(kernel, k);
  }
  return counted;
}

interface AvgGeometry {
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  hLo: Int32Array;
  hHi: Int32Array;
  wLo: Int32Array;
  wHi: Int32Array;
  /** Per-axis divisor factors (counted taps or in-bounds taps). */
  divH: Int32Array;
  divW: Int32Array;
}

function avgGeometry(p: Pool2dParams, outH: number, outW: number): AvgGeometry {
  const [, , h, w] = p.inShape;
  const [kh, kw] = p.kernel;
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  const [dh, dw] = p.dilation;
  const hLo = new Int32Array(outH), hHi = new Int32Array(outH);
  const wLo = new Int32Array(outW), wHi = new Int32Array(outW);
  tapRanges(outH, sh, ph, dh, kh, h, hLo, hHi);
  tapRanges(outW, sw, pw, dw, kw, w, wLo, wHi);
  let divH: Int32Array, divW: Int32Array;
  if (p.countIncludePad) {
    divH = countedTaps(outH, sh, ph, dh, kh, h);
    divW = countedTaps(outW, sw, pw, dw, kw, w);
  } else {
    divH = new Int32Array(outH);
    divW = new Int32Array(outW);
    for (let o = 0; o < outH; o++) divH[o] = hHi[o] - hLo[o];
    for (let o = 0; o < outW; o++) divW[o] = wHi[o] - wLo[o];
  }
  return { sh, sw, ph, pw, hLo, hHi, wLo, wHi, divH, divW };
}

function divisor(g: AvgGeometry, oh: number, ow: number): number {
  return g.divH[oh] * g.divW[ow];
}
