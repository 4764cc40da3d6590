// im2col / col2im for one image and one channel group (NCHW, f32), the data movement around the
// GEMM in convolutions (src/backends/cpu/wasm/conv.ts drives them; the GEMM is gemm.ts). Same
// layout as the TypeScript reference (src/backends/cpu/kernels/im2col.ts): the column matrix is
// [channels * kh * kw, outH * outW], row (ch * kh + ki) * kw + kj holding, for every output
// position (oh, ow), x[ch, oh * sh - ph + ki * dh, ow * sw - pw + kj * dw], or 0 in the padding.
//
// The geometry is passed as a 52-byte block of i32 at `geom` (written once per call by
// JavaScript, so that a thread-pool task needs only three arguments): 0 channels (of the
// group), 1 height, 2 width, 3 kh, 4 kw, 5 sh, 6 sw, 7 ph, 8 pw, 9 dh, 10 dw, 11 outH, 12 outW.
//
// Thread-pool entry points (src/backends/cpu/wasm/conv.ts splits a convolution into tasks of a
// few numeric arguments): im2col_part_f32 / col2im_part_f32 move a channel range, and
// conv2d_forward_images, conv2d_backward_input_images and conv2d_backward_weight_part run a
// whole slice of a convolution (im2col + GEMM + bias / col2im) from a 64-byte descriptor, i32
// slots: 0 geom, 1 x (the input; dx for backward input), 2 y (the output; dy for the backward
// passes), 3 packed weights of group 0 (gemm_pack_a; dw for backward weight), 4 bytes between
// the packed weights of consecutive groups, 5 bias (outChannels floats, or 0), 6 channels,
// 7 outChannels, 8 groups, 9 channels per group, 10 outChannels per group, 11 height * width,
// 12 kdim = channels per group * kh * kw, 13 outH * outW, 14 pointwise (1x1, stride 1, no
// padding: the input planes are the column matrix), 15 batch size.

import { gemm_f32, gemm_tile, gemm_tile_clamped } from './gemm';

/** First output position o in [0, outSize) with o * stride + shift >= 0. */
// @ts-ignore: decorator
@inline function rangeLo(shift: i32, stride: i32, outSize: i32): i32 {
  const lo = shift >= 0 ? 0 : (stride - 1 - shift) / stride;
  return lo < outSize ? lo : outSize;
}

/** One past the last output position o in [0, outSize) with o * stride + shift < size (>= lo). */
// @ts-ignore: decorator
@inline function rangeHi(shift: i32, stride: i32, size: i32, outSize: i32, lo: i32): i32 {
  let hi = size - 1 - shift < 0 ? 0 : (size - 1 - shift) / stride + 1;
  if (hi > outSize) hi = outSize;
  return hi < lo ? lo : hi;
}

/** dst[0..n) = 0. */
// @ts-ignore: decorator
@inline function zero(dst: usize, n: i32): void {
  let i = 0;
  const z = f32x4.splat(0);
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), z);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), 0);
}

/** dst[0..n) = src[0..n). */
// @ts-ignore: decorator
@inline function copy(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2;
    v128.store(dst + o, v128.load(src + o));
    v128.store(dst + o, v128.load(src + o, 16), 16);
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, v128.load(src + o));
  }
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
}

/** dst[0..n) += src[0..n). */
// @ts-ignore: decorator
@inline function accumulate(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

/**
 * Writes the column matrix ([channels * kh * kw, outH * outW]) of the `channels` planes of
 * height x width at x into cols, every element (padding included) overwritten.
 */
export function im2col_f32(geom: usize, x: usize, cols: usize): void {
  im2col(geom, load<i32>(geom), x, cols);
}

/** im2col_f32 for `channels` planes at x (the count in geom ignored). */
function im2col(geom: usize, channels: i32, x: usize, cols: usize): void {
  const height = load<i32>(geom, 4), width = load<i32>(geom, 8);
  const kh = load<i32>(geom, 12), kw = load<i32>(geom, 16), sh = load<i32>(geom, 20), sw = load<i32>(geom, 24);
  const ph = load<i32>(geom, 28), pw = load<i32>(geom, 32), dh = load<i32>(geom, 36), dw = load<i32>(geom, 40);
  const outH = load<i32>(geom, 44), outW = load<i32>(geom, 48);
  const same = sh == 1 && sw == 1 && outH == height && outW == width;
  const plane: usize = (<usize>height * <usize>width) << 2;
  const outPlane = outH * outW;
  const rowBytes: usize = <usize>outW << 2;
  const widthBytes: usize = <usize>width << 2;
  let row = cols;
  for (let ch = 0; ch < channels; ch++) {
    const xc = x + <usize>ch * plane;
    for (let ki = 0; ki < kh; ki++) {
      const shiftH = ki * dh - ph;
      const ohLo = rangeLo(shiftH, sh, outH);
      const ohHi = rangeHi(shiftH, sh, height, outH, ohLo);
      for (let kj = 0; kj < kw; kj++) {
        const shiftW = kj * dw - pw;
        const owLo = rangeLo(shiftW, sw, outW);
        const owHi = rangeHi(shiftW, sw, width, outW, owLo);
        zero(row, ohLo * outW);
        zero(row + <usize>ohHi * rowBytes, (outH - ohHi) * outW);
        if (same && ohLo < ohHi && owLo < owHi) {
          // Stride 1 and output size = input size: cols[j] = x[j + shiftH * width + shiftW] for
          // every valid j, so one contiguous copy from the first valid element to the last;
          // the padding columns it passes over (read from the neighbouring input row) are then
          // zeroed row by row.
          const first = ohLo * outW + owLo;
          const last = (ohHi - 1) * outW + owHi;
          copy(row + (<usize>first << 2), xc + (<usize>(first + shiftH * width + shiftW) << 2), last - first);
          for (let oh = ohLo; oh < ohHi; oh++) {
            const dst = row + <usize>oh * rowBytes;
            zero(dst, owLo);
            zero(dst + (<usize>owHi << 2), outW - owHi);
          }
          row += <usize>outPlane << 2;
          continue;
        }
        for (let oh = ohLo; oh < ohHi; oh++) {
          const dst = row + <usize>oh * rowBytes;
          // Address of input column ow = 0 of this output row (may lie before the row: only
          // columns in [owLo, owHi) are read).
          const src = xc + <usize>(oh * sh + shiftH) * widthBytes + (<usize>shiftW << 2);
          zero(dst, owLo);
          if (sw == 1) {
            copy(dst + (<usize>owLo << 2), src + (<usize>owLo << 2), owHi - owLo);
          } else {
            const step: usize = <usize>sw << 2;
            let s = src + <usize>owLo * step;
            for (let ow = owLo; ow < owHi; ow++) {
              store<f32>(dst + (<usize>ow << 2), load<f32>(s));
              s += step;
            }
          }
          zero(dst + (<usize>owHi << 2), outW - owHi);
        }
        row += <usize>outPlane << 2;
      }
    }
  }
}

/**
 * The adjoint of im2col_f32: adds every column entry onto the input position it was read from
 * (entries from the padding are dropped). Accumulates into dx; zero it first for a plain result.
 * Overwrites the padding entries of cols with zeros.
 */
export function col2im_f32(geom: usize, cols: usize, dx: usize): void {
  col2im(geom, load<i32>(geom), cols, dx);
}

/** col2im_f32 for `channels` planes at dx (the count in geom ignored). */
function col2im(geom: usize, channels: i32, cols: usize, dx: usize): void {
  const height = load<i32>(geom, 4), width = load<i32>(geom, 8);
  const kh = load<i32>(geom, 12), kw = load<i32>(geom, 16), sh = load<i32>(geom, 20), sw = load<i32>(geom, 24);
  const ph = load<i32>(geom, 28), pw = load<i32>(geom, 32), dh = load<i32>(geom, 36), dw = load<i32>(geom, 40);
  const outH = load<i32>(geom, 44), outW = load<i32>(geom, 48);
  const same = sh == 1 && sw == 1 && outH == height && outW == width;
  const plane: usize = (<usize>height * <usize>width) << 2;
  const outPlane = outH * outW;
  const rowBytes: usize = <usize>outW << 2;
  const widthBytes: usize = <usize>width << 2;
  let row = cols;
  for (let ch = 0; ch < channels; ch++) {
    const xc = dx + <usize>ch * plane;
    for (let ki = 0; ki < kh; ki++) {
      const shiftH = ki * dh - ph;
      const ohLo = rangeLo(shiftH, sh, outH);
      const ohHi = rangeHi(shiftH, sh, height, outH, ohLo);
      for (let kj = 0; kj < kw; kj++) {
        const shiftW = kj * dw - pw;
        const owLo = rangeLo(shiftW, sw, outW);
        const owHi = rangeHi(shiftW, sw, width, outW, owLo);
        if (same && ohLo < ohHi && owLo < owHi) {
          // As in im2col_f32: one contiguous accumulate, after zeroing the entries of the
          // padding columns it passes over (cols is scratch: they are dropped anyway).
          for (let oh = ohLo; oh < ohHi; oh++) {
            const src = row + <usize>oh * rowBytes;
            zero(src, owLo);
            zero(src + (<usize>owHi << 2), outW - owHi);
          }
          const first = ohLo * outW + owLo;
          const last = (ohHi - 1) * outW + owHi;
          accumulate(xc + (<usize>(first + shiftH * width + shiftW) << 2), row + (<usize>first << 2), last - first);
          row += <usize>outPlane << 2;
          continue;
        }
        for (let oh = ohLo; oh < ohHi; oh++) {
          const src = row + <usize>oh * rowBytes;
          const dst = xc + <usize>(oh * sh + shiftH) * widthBytes + (<usize>shiftW << 2);
          if (sw == 1) {
            accumulate(dst + (<usize>owLo << 2), src + (<usize>owLo << 2), owHi - owLo);
          } else {
            const step: usize = <usize>sw << 2;
            let d = dst + <usize>owLo * step;
            for (let ow = owLo; ow < owHi; ow++) {
              store<f32>(d, load<f32>(d) + load<f32>(src + (<usize>ow << 2)));
              d += step;
            }
          }
        }
        row += <usize>outPlane << 2;
      }
    }
  }
}

/** im2col of channels [c0, c1) of the planes at x into rows c0 * kh * kw .. of cols (the whole column matrix's layout). */
export function im2col_part_f32(geom: usize, c0: i32, c1: i32, x: usize, cols: usize): void {
  if (c0 >= c1) return;
  const kk = load<i32>(geom, 12) * load<i32>(geom, 16);
  const plane = <usize>load<i32>(geom, 4) * <usize>load<i32>(geom, 8);
  const npos = <usize>load<i32>(geom, 44) * <usize>load<i32>(geom, 48);
  im2col(geom, c1 - c0, x + ((<usize>c0 * plane) << 2), cols + ((<usize>c0 * <usize>kk * npos) << 2));
}

/** col2im of rows c0 * kh * kw .. of cols onto channels [c0, c1) of dx (accumulating). */
export function col2im_part_f32(geom: usize, c0: i32, c1: i32, cols: usize, dx: usize): void {
  if (c0 >= c1) return;
  const kk = load<i32>(geom, 12) * load<i32>(geom, 16);
  const plane = <usize>load<i32>(geom, 4) * <usize>load<i32>(geom, 8);
  const npos = <usize>load<i32>(geom, 44) * <usize>load<i32>(geom, 48);
  col2im(geom, c1 - c0, cols + ((<usize>c0 * <usize>kk * npos) << 2), dx + ((<usize>c0 * plane) << 2));
}

/**
 * Forward convolution of images [b0, b1) (every group): im2col into cols (kdim * outH * outW
 * floats; unused when pointwise), then the GEMM with the packed weights and the bias into y,
 * clamped to [lo, hi] when the descriptor asks (slots 16-18: a fused ReLU / ReLU6).
 * scratch: gemm_tile_scratch_bytes(kdim, outH * outW, false) bytes. cols and scratch private.
 */
export function conv2d_forward_images(desc: usize, b0: i32, b1: i32, cols: usize, scratch: usize): void {
  const geom = <usize>load<u32>(desc), x = <usize>load<u32>(desc, 4), y = <usize>load<u32>(desc, 8);
  const packed = <usize>load<u32>(desc, 12), packedBytes = <usize>load<u32>(desc, 16), bias = <usize>load<u32>(desc, 20);
  const c = load<i32>(desc, 24), o = load<i32>(desc, 28), groups = load<i32>(desc, 32), cg = load<i32>(desc, 36), og = load<i32>(desc, 40);
  const plane = <usize>load<u32>(desc, 44), kdim = load<i32>(desc, 48), npos = load<i32>(desc, 52), pointwise = load<i32>(desc, 56) != 0;
  const clamp = load<i32>(desc, 64) != 0, lo = load<f32>(desc, 68), hi = load<f32>(desc, 72);
  for (let b = b0; b < b1; b++) {
    for (let gi = 0; gi < groups; gi++) {
      const xg = x + ((<usize>(b * c + gi * cg) * plane) << 2);
      let src = xg;
      if (!pointwise) {
        im2col(geom, cg, xg, cols);
        src = cols;
      }
      const yg = y + ((<usize>(b * o + gi * og) * <usize>npos) << 2);
      gemm_tile_clamped(og, npos, kdim, 1, packed + <usize>gi * packedBytes, 0, false, src, npos, 0, yg, npos, 0, og, 0, npos, bias ? bias + (<usize>(gi * og) << 2) : 0, scratch, clamp, lo, hi);
    }
  }
}

/**
 * Backward-input convolution of images [b0, b1) (every group): the column gradient W_g^T @ dy_g
 * (weights packed transposed) into cols, then col2im onto dx (those images' planes are zeroed
 * first; pointwise: the GEMM writes dx directly). scratch: gemm_tile_scratch_bytes(outChannels
 * per group, outH * outW, false) bytes.
 */
export function conv2d_backward_input_images(desc: usize, b0: i32, b1: i32, cols: usize, scratch: usize): void {
  const geom = <usize>load<u32>(desc), dx = <usize>load<u32>(desc, 4), dy = <usize>load<u32>(desc, 8);
  const packed = <usize>load<u32>(desc, 12), packedBytes = <usize>load<u32>(desc, 16);
  const c = load<i32>(desc, 24), o = load<i32>(desc, 28), groups = load<i32>(desc, 32), cg = load<i32>(desc, 36), og = load<i32>(desc, 40);
  const plane = <usize>load<u32>(desc, 44), kdim = load<i32>(desc, 48), npos = load<i32>(desc, 52), pointwise = load<i32>(desc, 56) != 0;
  for (let b = b0; b < b1; b++) {
    for (let gi = 0; gi < groups; gi++) {
      const dxg = dx + ((<usize>(b * c + gi * cg) * plane) << 2);
      const dyg = dy + ((<usize>(b * o + gi * og) * <usize>npos) << 2);
      gemm_tile(kdim, npos, og, 1, packed + <usize>gi * packedBytes, 0, false, dyg, npos, 0, pointwise ? dxg : cols, npos, 0, kdim, 0, npos, 0, scratch);
      if (!pointwise) {
        memory.fill(dxg, 0, (<usize>cg * plane) << 2);
        col2im(geom, cg, cols, dxg);
      }
    }
  }
}

/**
 * Backward-weight convolution restricted to group gi, input channels [c0, c1) and output
 * channels [m0, m1) of the group, summed over the whole batch: the block
 * dW[gi * og + m0 .. gi * og + m1, c0 * kh * kw .. c1 * kh * kw] (row stride kdim). Every element
 * is computed exactly as by the whole product (same K blocks, same order over the images), so
 * any split into blocks gives the single-threaded result bit for bit.
 * cols: (c1 - c0) * kh * kw * outH * outW floats (unused when pointwise); scratch:
 * gemm_scratch_bytes(m1 - m0, (c1 - c0) * kh * kw, outH * outW) bytes.
 */
export function conv2d_backward_weight_part(desc: usize, gi: i32, c0: i32, c1: i32, m0: i32, m1: i32, cols: usize, scratch: usize): void {
  const geom = <usize>load<u32>(desc), x = <usize>load<u32>(desc, 4), dy = <usize>load<u32>(desc, 8), dw = <usize>load<u32>(desc, 12);
  const c = load<i32>(desc, 24), o = load<i32>(desc, 28), cg = load<i32>(desc, 36), og = load<i32>(desc, 40);
  const plane = <usize>load<u32>(desc, 44), kdim = load<i32>(desc, 48), npos = load<i32>(desc, 52), pointwise = load<i32>(desc, 56) != 0;
  const n = load<i32>(desc, 60);
  if (c0 >= c1 || m0 >= m1) return;
  const kk = kdim / cg;
  const ct = c1 - c0;
  const dwBlock = dw + ((<usize>(gi * og + m0) * <usize>kdim + <usize>(c0 * kk)) << 2);
  for (let b = 0; b < n; b++) {
    const xg = x + ((<usize>(b * c + gi * cg + c0) * plane) << 2);
    let src = xg;
    if (!pointwise) {
      im2col(geom, ct, xg, cols);
      src = cols;
    }
    // The block (+)= dy_g[m0 .. m1] @ cols^T, cols stored [ct * kh * kw, outH * outW].
    const dyg = dy + ((<usize>(b * o + gi * og + m0) * <usize>npos) << 2);
    gemm_f32(false, true, m1 - m0, ct * kk, npos, 1, dyg, npos, src, npos, b == 0 ? 0 : 1, dwBlock, kdim, 0, scratch);
  }
}
