/**
 * 2-D convolution (cross-correlation, PyTorch's Conv2d) on NCHW arrays: forward, and the two
 * backward products. Bias gradients are a plain reduction left to the op layer.
 *
 * Three strategies, chosen per call:
 *  - depthwise (groups == inChannels, one input channel per group, any channel multiplier):
 *    direct loops, since each output plane needs only kH*kW scaled shifted copies of one input
 *    plane and a GEMM would have a single-row inner dimension;
 *  - 1x1, stride 1, no padding: the input plane block is already the column matrix, so GEMM runs
 *    straight on x (and writes dx straight into place);
 *  - everything else: per image and group, im2col into a reused scratch matrix, then GEMM.
 */
import { gemm } from './matmul.js';
import { col2im, im2col, validRange, type Im2colGeometry } from './im2col.js';
import { allocLike, outputSize, type Conv2dParams, type FloatArray } from './types.js';

/** [batch, outChannels, outH, outW] of a convolution; throws on inconsistent geometry. */
export function conv2dOutputShape(p: Conv2dParams): [number, number, number, number] {
  const [n, c, h, w] = p.inShape;
  const [o, cg, kh, kw] = p.weightShape;
  const groups = p.groups;
  if (!Number.isInteger(groups) || groups < 1) throw new Error(`conv2d: groups must be a positive integer, got ${groups}`);
  if (c % groups !== 0 || o % groups !== 0) {
    throw new Error(`conv2d: inChannels (${c}) and outChannels (${o}) must both be divisible by groups (${groups})`);
  }
  if (cg !== c / groups) throw new Error(`conv2d: weight expects ${cg} input channels per group, input has ${c / groups}`);
  if (kh < 1 || kw < 1) throw new Error(`conv2d: kernel size must be positive, got ${kh}x${kw}`);
  if (p.stride[0] < 1 || p.stride[1] < 1 || p.dilation[0] < 1 || p.dilation[1] < 1 || p.padding[0] < 0 || p.padding[1] < 0) {
    throw new Error('conv2d: stride and dilation must be >= 1 and padding >= 0');
  }
  const oh = outputSize(h, kh, p.stride[0], p.padding[0], p.dilation[0]);
  const ow = outputSize(w, kw, p.stride[1], p.padding[1], p.dilation[1]);
  if (oh < 1 || ow < 1) {
    throw new Error(`conv2d: input ${h}x${w} (padding ${p.padding[0]}x${p.padding[1]}) is smaller than the dilated kernel`);
  }
  return [n, o, oh, ow];
}

interface Plan {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  groups: number;
  /** Input channels per group. */
  cg: number;
  /** Output channels per group. */
  og: number;
  kh: number;
  kw: number;
  outH: number;
  outW: number;
  /** Rows of the column matrix: cg * kh * kw. */
  kdim: number;
  /** Output positions per plane: outH * outW. */
  npos: number;
  kind: 'depthwise' | 'pointwise' | 'im2col';
  geom: Im2colGeometry;
}

function plan(p: Conv2dParams): Plan {
  const [n, c, h, w] = p.inShape;
  const [o, cg, kh, kw] = p.weightShape;
  const [, , outH, outW] = conv2dOutputShape(p);
  const groups = p.groups;
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  const [dh, dw] = p.dilation;
  let kind: Plan['kind'] = 'im2col';
  if (groups === c && cg === 1 && groups > 1) kind = 'depthwise';
  else if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0) kind = 'pointwise';
  return {
    n, c, h, w, o, groups, cg, og: o / groups, kh, kw, outH, outW,
    kdim: cg * kh * kw,
    npos: outH * outW,
    kind,
    geom: {
      channels: cg, height: h, width: w, kernelH: kh, kernelW: kw,
      strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw, outH, outW,
    },
  };
}

function checkSize(name: string, a: FloatArray, expected: number): void {
  if (a.length < expected) throw new Error(`conv2d: ${name} has ${a.length} elements, expected ${expected}`);
}

// Column-matrix scratch, one per element type, grown on demand and reused across calls.
let scratch32 = new Float32Array(0);
let scratch64 = new Float64Array(0);

function scratchLike(like: FloatArray, size: number): FloatArray {
  if (like instanceof Float64Array) {
    if (scratch64.length < size) scratch64 = new Float64Array(size);
    return scratch64;
  }
  if (scratch32.length < size) scratch32 = new Float32Array(size);
  return scratch32;
}

/** y = conv(x, w) + bias; x is p.inShape, w is p.weightShape, bias has outChannels entries or is null. */
export function conv2dForward(x: FloatArray, w: FloatArray, bias: FloatArray | null, p: Conv2dParams): FloatArray {
  const q = plan(p);
  const { n, c, h, o, groups, cg, og, kdim, npos } = q;
  const plane = h * q.w;
  checkSize('x', x, n * c * plane);
  checkSize('weight', w, o * kdim);
  if (bias) checkSize('bias', bias, o);
  const y = allocLike(x, n * o * npos);

  if (q.kind === 'depthwise') {
    depthwiseForward(x, w, y, q);
  } else {
    const cols = q.kind === 'im2col' ? scratchLike(x, kdim * npos) : null;
    for (let b = 0; b < n; b++) {
      for (let g = 0; g < groups; g++) {
        const xOff = (b * c + g * cg) * plane;
        const yOff = (b * o + g * og) * npos;
        if (cols) {
          im2col(x, xOff, q.geom, cols, 0);
          gemm(false, false, og, npos, kdim, 1, w, g * og * kdim, cols, 0, 0, y, yOff);
        } else {
          gemm(false, false, og, npos, kdim, 1, w, g * og * kdim, x, xOff, 0, y, yOff);
        }
      }
    }
  }

  if (bias) {
    for (let b = 0; b < n; b++) {
      for (let oc = 0; oc < o; oc++) {
        const v = bias[oc];
        const start = (b * o + oc) * npos;
        const end = start + npos;
        for (let i = start; i < end; i++) y[i] += v;
      }
    }
  }
  return y;
}

/** dx = the adjoint of conv(., w) applied to dy; dy is [N, outC, outH, outW], dx is p.inShape. */
export function conv2dBackwardInput(dy: FloatArray, w: FloatArray, p: Conv2dParams): FloatArray {
  const q = plan(p);
  const { n, c, h, o, groups, cg, og, kdim, npos } = q;
  const plane = h * q.w;
  checkSize('dy', dy, n * o * npos);
  checkSize('weight', w, o * kdim);
  const dx = allocLike(dy, n * c * plane);

  if (q.kind === 'depthwise') {
    depthwiseBackwardInput(dy, w, dx, q);
    return dx;
  }
  const cols = q.kind === 'im2col' ? scratchLike(dy, kdim * npos) : null;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < groups; g++) {
      const dxOff = (b * c + g * cg) * plane;
      const dyOff = (b * o + g * og) * npos;
      if (cols) {
        // dcols[kdim, npos] = W_g^T @ dy_g, then scatter-add back onto the image.
        gemm(true, false, kdim, npos, og, 1, w, g * og * kdim, dy, dyOff, 0, cols, 0);
        col2im(cols, 0, q.geom, dx, dxOff);
      } else {
        gemm(true, false, kdim, npos, og, 1, w, g * og * kdim, dy, dyOff, 0, dx, dxOff);
      }
    }
  }
  return dx;
}

/** dw = the gradient of <conv(x, w), dy> with respect to w, summed over the batch; shape p.weightShape. */
export function conv2dBackwardWeight(x: FloatArray, dy: FloatArray, p: Conv2dParams): FloatArray {
  const q = plan(p);
  const { n, c, h, o, groups, cg, og, kdim, npos } = q;
  const plane = h * q.w;
  checkSize('x', x, n * c * plane);
  checkSize('dy', dy, n * o * npos);
  const dw = allocLike(x, o * kdim);

  if (q.kind === 'depthwise') {
    depthwiseBackwardWeight(x, dy, dw, q);
    return dw;
  }
  const cols = q.kind === 'im2col' ? scratchLike(x, kdim * npos) : null;
  for (let b = 0; b < n; b++) {
    for (let g = 0; g < groups; g++) {
      const xOff = (b * c + g * cg) * plane;
      const dyOff = (b * o + g * og) * npos;
      // dW_g[og, kdim] += dy_g[og, npos] @ cols^T, cols being [kdim, npos].
      const beta = b === 0 ? 0 : 1;
      if (cols) {
        im2col(x, xOff, q.geom, cols, 0);
        gemm(false, true, og, kdim, npos, 1, dy, dyOff, cols, 0, beta, dw, g * og * kdim);
      } else {
        gemm(false, true, og, kdim, npos, 1, dy, dyOff, x, xOff, beta, dw, g * og * kdim);
      }
    }
  }
  return dw;
}

// ---------------------------------------------------------------------------------------------
// Depthwise: input channel ch feeds output channels ch * mult .. ch * mult + mult - 1.
// Each kernel tap (ki, kj) contributes one scaled, shifted (strided) copy of the input plane; the
// valid output range of each tap is computed up front so the inner loops carry no bounds tests.

function depthwiseForward(x: FloatArray, w: FloatArray, y: FloatArray, q: Plan): void {
  const { n, c, h, o, kh, kw, outH, outW, npos } = q;
  const width = q.w;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw } = q.geom;
  const mult = o / c;
  const plane = h * width;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const xOff = (b * c + ch) * plane;
      for (let m = 0; m < mult; m++) {
        const oc = ch * mult + m;
        const yOff = (b * o + oc) * npos;
        for (let ki = 0; ki < kh; ki++) {
          const shiftH = ki * dh - ph;
          const [ohLo, ohHi] = validRange(shiftH, sh, h, outH);
          for (let kj = 0; kj < kw; kj++) {
            const shiftW = kj * dw - pw;
            const [owLo, owHi] = validRange(shiftW, sw, width, outW);
            const wv = w[(oc * kh + ki) * kw + kj];
            for (let oh = ohLo; oh < ohHi; oh++) {
              const dst = yOff + oh * outW;
              const src = xOff + (oh * sh + shiftH) * width + shiftW;
              for (let ow = owLo; ow < owHi; ow++) y[dst + ow] += wv * x[src + ow * sw];
            }
          }
        }
      }
    }
  }
}

function depthwiseBackwardInput(dy: FloatArray, w: FloatArray, dx: FloatArray, q: Plan): void {
  const { n, c, h, o, kh, kw, outH, outW, npos } = q;
  const width = q.w;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw } = q.geom;
  const mult = o / c;
  const plane = h * width;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) {
      const xOff = (b * c + ch) * plane;
      for (let m = 0; m < mult; m++) {
        const oc = ch * mult + m;
        const yOff = (b * o + oc) * npos;
        for (let ki = 0; ki < kh; ki++) {
          const shiftH = ki * dh - ph;
          const [ohLo, ohHi] = validRange(shiftH, sh, h, outH);
          for (let kj = 0; kj < kw; kj++) {
            const shiftW = kj * dw - pw;
            const [owLo, owHi] = validRange(shiftW, sw, width, outW);
            const wv = w[(oc * kh + ki) * kw + kj];
            for (let oh = ohLo; oh < ohHi; oh++) {
              const src = yOff + oh * outW;
              const dst = xOff + (oh * sh + shiftH) * width + shiftW;
              for (let ow = owLo; ow < owHi; ow++) dx[dst + ow * sw] += wv * dy[src + ow];
            }
          }
        }
      }
    }
  }
}

function depthwiseBackwardWeight(x: FloatArray, dy: FloatArray, dwt: FloatArray, q: Plan): void {
  const { n, c, h, o, kh, kw, outH, outW, npos } = q;
  const width = q.w;
  const { strideH: sh, strideW: sw, padH: ph, padW: pw, dilationH: dh, dilationW: dw } = q.geom;
  const mult = o / c;
  const plane = h * width;
  for (let ch = 0; ch < c; ch++) {
    for (let m = 0; m < mult; m++) {
      const oc = ch * mult + m;
      for (let ki = 0; ki < kh; ki++) {
        const shiftH = ki * dh - ph;
        const [ohLo, ohHi] = validRange(shiftH, sh, h, outH);
        for (let kj = 0; kj < kw; kj++) {
          const shiftW = kj * dw - pw;
          const [owLo, owHi] = validRange(shiftW, sw, width, outW);
          let s = 0;
          for (let b = 0; b < n; b++) {
            const xOff = (b * c + ch) * plane;
            const yOff = (b * o + oc) * npos;
            for (let oh = ohLo; oh < ohHi; oh++) {
              const src = yOff + oh * outW;
              const xs = xOff + (oh * sh + shiftH) * width + shiftW;
              for (let ow = owLo; ow < owHi; ow++) s += dy[src + ow] * x[xs + ow * sw];
            }
          }
          dwt[(oc * kh + ki) * kw + kj] = s;
        }
      }
    }
  }
}
