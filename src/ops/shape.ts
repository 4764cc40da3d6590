import { runKernel } from '../tensor/engine.js';
import { record } from '../tensor/autograd.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastShapes, fmt, normalizeAxis, sizeOf } from './util.js';
import { scalar } from './creation.js';
import { sumTo } from './reduce.js';

/** A view with a new shape (shares storage; one dimension may be -1). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const resolved = [...shape];
  const unknown = resolved.indexOf(-1);
  if (unknown !== -1) {
    const known = sizeOf(resolved.filter((_, i) => i !== unknown));
    if (known === 0 || x.size % known !== 0) throw new Error(`reshape: cannot infer -1 in ${fmt(shape)} for ${x.size} elements (shape ${fmt(x.shape)})`);
    resolved[unknown] = x.size / known;
  }
  if (sizeOf(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: shape ${fmt(shape)} has ${sizeOf(resolved)} elements but the tensor ${fmt(x.shape)} has ${x.size}`);
  }
  const y = Tensor.fromStorage(x.storage, resolved, x.dtype, x.backend);
  return record(y, 'reshape', [x], (dy) => [reshape(dy, x.shape)]);
}

/** Flattens dimensions startDim..endDim into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeAxis('flatten', startDim, x.ndim);
  const e = normalizeAxis('flatten', endDim, x.ndim);
  if (e < s) throw new Error(`flatten: endDim ${endDim} comes before startDim ${startDim} for shape ${fmt(x.shape)}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('unsqueeze', axis, x.ndim + 1);
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]);
}

export function squeeze(x: Tensor, axis?: number): Tensor {
  if (axis === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const a = normalizeAxis('squeeze', axis, x.ndim);
  if (x.shape[a] !== 1) return reshape(x, x.shape);
  return reshape(x, x.shape.filter((_, i) => i !== a));
}

/** Contiguous permuted copy, not recorded (for kernels and backward passes). */
export function transposeRaw(x: Tensor, perm: readonly number[]): Tensor {
  return runKernel('transpose', [x], { perm: [...perm] })[0];
}

/** Reorders dimensions (a contiguous copy: fovea tensors are always contiguous). */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const perm = axes.map((a) => normalizeAxis('permute', a, x.ndim));
  if (perm.length !== x.ndim || new Set(perm).size !== x.ndim) throw new Error(`permute: ${fmt(axes)} is not a permutation of the ${x.ndim} axes of ${fmt(x.shape)}`);
  const y = transposeRaw(x, perm);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return record(y, 'permute', [x], (dy) => [transposeRaw(dy, inverse)]);
}

/** Swaps two dimensions (the last two by default). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const perm = [...x.shape.keys()];
  const a = normalizeAxis('transpose', dim0, x.ndim);
  const b = normalizeAxis('transpose', dim1, x.ndim);
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return permute(x, perm);
}

/**
 * The box begin .. begin + size (size -1 = to the end), as a copy. `slice(x, [0, 2], [-1, 3])`
 * takes columns 2..4 of every row.
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  if (begin.length > x.ndim) throw new Error(`slice: begin ${fmt(begin)} has more entries than the tensor's rank (${fmt(x.shape)})`);
  const b = x.shape.map((_, i) => begin[i] ?? 0);
  const s = x.shape.map((d, i) => (size?.[i] === undefined || size[i] === -1 ? d - b[i] : size[i]));
  for (let i = 0; i < x.ndim; i++) {
    if (b[i] < 0 || s[i] < 0 || b[i] + s[i] > x.shape[i]) throw new Error(`slice: box begin ${fmt(b)} size ${fmt(s)} does not fit in shape ${fmt(x.shape)} (axis ${i})`);
  }
  const y = runKernel('slice', [x], { begin: b, size: s })[0];
  return record(y, 'slice', [x], (dy) => [runKernel('pad', [dy], { begin: b, outShape: [...x.shape], value: 0 })[0]]);
}

/** Zero (or `value`) padding: `padding[i] = [before, after]` for each leading axis i. */
export function pad(x: Tensor, padding: readonly (readonly [number, number])[], value = 0): Tensor {
  const begin = x.shape.map((_, i) => padding[i]?.[0] ?? 0);
  const outShape = x.shape.map((d, i) => d + begin[i] + (padding[i]?.[1] ?? 0));
  if (begin.some((p) => p < 0) || outShape.some((d, i) => d < x.shape[i])) throw new Error(`pad: padding ${JSON.stringify(padding)} must be non-negative`);
  const y = runKernel('pad', [x], { begin, outShape, value })[0];
  return record(y, 'pad', [x], (dy) => [runKernel('slice', [dy], { begin, size: [...x.shape] })[0]]);
}

/** Joins tensors along `axis`; every other dimension must agree. */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new Error('concat: needs at least one tensor');
  const first = tensors[0];
  const a = normalizeAxis('concat', axis, first.ndim);
  for (const t of tensors) {
    if (t.ndim !== first.ndim || t.shape.some((d, i) => i !== a && d !== first.shape[i]) || t.dtype !== first.dtype) {
      throw new Error(`concat: shapes must match except on axis ${a}: ${tensors.map((u) => `${fmt(u.shape)} ${u.dtype}`).join(', ')}`);
    }
  }
  const y = runKernel('concat', tensors, { axis: a })[0];
  return record(y, 'concat', tensors, (dy) => {
    let offset = 0;
    return tensors.map((t) => {
      const begin = t.shape.map((_, i) => (i === a ? offset : 0));
      offset += t.shape[a];
      return runKernel('slice', [dy], { begin, size: [...t.shape] })[0];
    });
  });
}

/** Splits along `axis` into pieces of the given sizes (differentiable: each piece is a slice). */
export function split(x: Tensor, sizes: readonly number[], axis = 0): Tensor[] {
  const a = normalizeAxis('split', axis, x.ndim);
  if (sizes.reduce((s, v) => s + v, 0) !== x.shape[a]) throw new Error(`split: sizes ${fmt(sizes)} do not add up to ${x.shape[a]} (axis ${a} of ${fmt(x.shape)})`);
  let offset = 0;
  return sizes.map((n) => {
    const begin = x.shape.map((_, i) => (i === a ? offset : 0));
    const size = x.shape.map((d, i) => (i === a ? n : d));
    offset += n;
    return slice(x, begin, size);
  });
}

/** Broadcasts `x` to `shape` as a copy (differentiable). */
export function expandTo(x: Tensor, shape: readonly number[]): Tensor {
  const outShape = broadcastShapes('expand', x.shape, shape);
  if (outShape.join() !== shape.join()) throw new Error(`expand: ${fmt(x.shape)} cannot be broadcast to ${fmt(shape)}`);
  const zero = scalar(0, x.dtype);
  const y = runKernel('binary', [x, zero], { op: 'add', outShape })[0];
  zero.dispose();
  return record(y, 'expand', [x], (dy) => [sumTo(dy, x.shape)]);
}
