// im2col / col2im for one image and one channel group (NCHW, f32), the data movement around the
// GEMM in convolutions (src/backends/cpu/wasm/conv.ts drives them; the GEMM is gemm.ts). Same
// layout as the TypeScript reference (src/backends/cpu/kernels/im2col.ts): the column matrix is
// [channels * kh * kw, outH * outW], row (ch * kh + ki) * kw + kj holding, for every output
// position (oh, ow), x[ch, oh * sh - ph + ki * dh, ow * sw - pw + kj * dw], or 0 in the padding.
//
// The geometry is passed as a 52-byte block of i32 at `geom` (written once per call by
// JavaScript, so that a thread-pool task needs only three arguments): 0 channels (of the
// group), 1 height, 2 width, 3 kh, 4 kw, 5 sh, 6 sw, 7 ph, 8 pw, 9 dh, 10 dw, 11 outH, 12 outW.

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
  const channels = load<i32>(geom), height = load<i32>(geom, 4), width = load<i32>(geom, 8);
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
  const channels = load<i32>(geom), height = load<i32>(geom, 4), width = load<i32>(geom, 8);
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
