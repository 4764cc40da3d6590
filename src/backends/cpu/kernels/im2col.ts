/**
 * im2col / col2im for one image and one channel group (NCHW, row-major).
 *
 * The column matrix has shape [channels * kernelH * kernelW, outH * outW]: row
 * (c * kernelH + ki) * kernelW + kj holds, for every output position (oh, ow), the input value
 * x[c, oh * strideH - padH + ki * dilationH, ow * strideW - padW + kj * dilationW], or 0 where that
 * falls in the zero padding. This matches the weight layout [outC, inC/groups, kH, kW], so a
 * convolution is W_g [outC/groups, rows] @ cols.
 */
import type { FloatArray } from './types.js';

/** Geometry of one im2col/col2im call; `channels` is the channel count of the group. */
export interface Im2colGeometry {
  channels: number;
  height: number;
  width: number;
  kernelH: number;
  kernelW: number;
  strideH: number;
  strideW: number;
  padH: number;
  padW: number;
  dilationH: number;
  dilationW: number;
  outH: number;
  outW: number;
}

/**
 * The range [lo, hi) of output positions o in [0, outSize) whose input position
 * o * stride + shift lies in [0, size).
 */
export function validRange(shift: number, stride: number, size: number, outSize: number): [number, number] {
  // o * stride + shift >= 0  <=>  o >= ceil(-shift / stride)
  let lo = shift >= 0 ? 0 : Math.ceil(-shift / stride);
  // o * stride + shift <= size - 1  <=>  o <= floor((size - 1 - shift) / stride)
  let hi = size - 1 - shift < 0 ? 0 : Math.floor((size - 1 - shift) / stride) + 1;
  if (lo > outSize) lo = outSize;
  if (hi > outSize) hi = outSize;
  if (hi < lo) hi = lo;
  return [lo, hi];
}

/**
 * Writes the column matrix of the image group starting at x[xOffset] (g.channels planes of
 * g.height x g.width) into cols[colsOffset ...], every element (padding included) overwritten.
 */
export function im2col(x: FloatArray, xOffset: number, g: Im2colGeometry, cols: FloatArray, colsOffset = 0): void {
  const { channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outH, outW } = g;
  const plane = height * width;
  const outPlane = outH * outW;
  let row = colsOffset;
  for (let ch = 0; ch < channels; ch++) {
    const xc = xOffset + ch * plane;
    for (let ki = 0; ki < kernelH; ki++) {
      const shiftH = ki * dilationH - padH;
      const [ohLo, ohHi] = validRange(shiftH, strideH, height, outH);
      for (let kj = 0; kj < kernelW; kj++, row += outPlane) {
        const shiftW = kj * dilationW - padW;
        const [owLo, owHi] = validRange(shiftW, strideW, width, outW);
        // Rows of the output grid that read padding are all zero.
        cols.fill(0, row, row + ohLo * outW);
        cols.fill(0, row + ohHi * outW, row + outPlane);
        for (let oh = ohLo; oh < ohHi; oh++) {
          const dst = row + oh * outW;
          const src = xc + (oh * strideH + shiftH) * width + shiftW;
          for (let ow = 0; ow < owLo; ow++) cols[dst + ow] = 0;
          if (strideW === 1) {
            for (let ow = owLo; ow < owHi; ow++) cols[dst + ow] = x[src + ow];
          } else {
            for (let ow = owLo; ow < owHi; ow++) cols[dst + ow] = x[src + ow * strideW];
          }
          for (let ow = owHi; ow < outW; ow++) cols[dst + ow] = 0;
        }
      }
    }
  }
}

/**
 * The adjoint of `im2col`: adds every column entry back onto the input position it was read from
 * (entries that came from padding are dropped). Accumulates into dx[dxOffset ...]; the caller zeroes
 * dx first if it wants a plain result.
 */
export function col2im(cols: FloatArray, colsOffset: number, g: Im2colGeometry, dx: FloatArray, dxOffset: number): void {
  const { channels, height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW, outH, outW } = g;
  const plane = height * width;
  const outPlane = outH * outW;
  let row = colsOffset;
  for (let ch = 0; ch < channels; ch++) {
    const xc = dxOffset + ch * plane;
    for (let ki = 0; ki < kernelH; ki++) {
      const shiftH = ki * dilationH - padH;
      const [ohLo, ohHi] = validRange(shiftH, strideH, height, outH);
      for (let kj = 0; kj < kernelW; kj++, row += outPlane) {
        const shiftW = kj * dilationW - padW;
        const [owLo, owHi] = validRange(shiftW, strideW, width, outW);
        for (let oh = ohLo; oh < ohHi; oh++) {
          const src = row + oh * outW;
          const dst = xc + (oh * strideH + shiftH) * width + shiftW;
          if (strideW === 1) {
            for (let ow = owLo; ow < owHi; ow++) dx[dst + ow] += cols[src + ow];
          } else {
            for (let ow = owLo; ow < owHi; ow++) dx[dst + ow * strideW] += cols[src + ow];
          }
        }
      }
    }
  }
}
