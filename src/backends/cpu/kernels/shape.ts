import type { TypedArray } from '../../../tensor/dtype.js';
import { stridesOf } from '../../strides.js';

/** out = x.permute(perm), contiguous. */
export function transpose(x: TypedArray, shape: readonly number[], perm: readonly number[], out: TypedArray): void {
  const rank = shape.length;
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const src = perm.map((p) => inStrides[p]);
  const n = out.length;
  if (n === 0) return;
  const inner = rank ? outShape[rank - 1] : 1;
  const innerStride = rank ? src[rank - 1] : 0;
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  let offset = 0;
  for (let o = 0; o < n; o += inner) {
    for (let j = 0, p = offset; j < inner; j++, p += innerStride) out[o + j] = x[p];
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      offset += src[d];
      if (index[d] < outShape[d]) break;
      offset -= src[d] * outShape[d];
      index[d] = 0;
    }
  }
}

/**
 * Copies the box `begin .. begin + size` of `x` (shape `shape`) into `out` (shape `size`),
 * or, with `scatter`, the reverse: writes `out`-shaped `x` into the box of a `shape`-sized
 * zero-initialised `out`. Slicing and its gradient (padding) are the same walk.
 */
export function copyBox(
  src: TypedArray,
  dst: TypedArray,
  bigShape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
  scatter: boolean,
): void {
  const rank = bigShape.length;
  const bigStrides = stridesOf(bigShape);
  const n = size.reduce((a, b) => a * b, 1);
  if (n === 0) return;
  const inner = rank ? size[rank - 1] : 1;
  let offset = 0;
  for (let d = 0; d < rank; d++) offset += begin[d] * bigStrides[d];
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let o = 0; o < n; o += inner) {
    if (scatter) for (let j = 0; j < inner; j++) dst[offset + j] = src[o + j];
    else for (let j = 0; j < inner; j++) dst[o + j] = src[offset + j];
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      offset += bigStrides[d];
      if (index[d] < size[d]) break;
      offset -= bigStrides[d] * size[d];
      index[d] = 0;
    }
  }
}

/** Concatenates `parts` along `axis` (all parts share every other dimension). */
export function concat(parts: readonly TypedArray[], shapes: readonly (readonly number[])[], axis: number, out: TypedArray): void {
  const outer = shapes[0].slice(0, axis).reduce((a, b) => a * b, 1);
  const rowLengths = shapes.map((s) => s.slice(axis).reduce((a, b) => a * b, 1));
  const outRow = rowLengths.reduce((a, b) => a + b, 0);
  let column = 0;
  parts.forEach((part, k) => {
    const len = rowLengths[k];
    for (let o = 0; o < outer; o++) out.set(part.subarray(o * len, (o + 1) * len), o * outRow + column);
    column += len;
  });
}
