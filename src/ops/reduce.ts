import { runKernel } from '../tensor/engine.js';
import { record } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import { fmt, normalizeAxis, sizeOf } from './util.js';
import { affine } from './elementwise.js';
import { reshape, transposeRaw, expandTo } from './shape.js';

function resolveAxes(op: string, axis: number | readonly number[] | undefined, rank: number): number[] {
  if (axis === undefined) return [...Array(rank).keys()];
  const list = typeof axis === 'number' ? [axis] : [...axis];
  const axes = [...new Set(list.map((a) => normalizeAxis(op, a, rank)))].sort((a, b) => a - b);
  return axes;
}

function reducedShape(shape: readonly number[], axes: readonly number[], keepDims: boolean): number[] {
  return keepDims ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

/** Runs a block reduction, moving the reduced axes together first when they are not adjacent. */
function reduceRaw(op: 'sum' | 'max' | 'min', x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  const outShape = reducedShape(x.shape, axes, keepDims);
  if (axes.length === 0) return runKernel('affine', [x], { scale: 1, shift: 0 })[0];
  const contiguous = axes[axes.length - 1] - axes[0] === axes.length - 1;
  if (contiguous) {
    const outer = sizeOf(x.shape.slice(0, axes[0]));
    const reduced = sizeOf(axes.map((a) => x.shape[a]));
    const inner = sizeOf(x.shape.slice(axes[axes.length - 1] + 1));
    return runKernel('reduce', [x], { op, block: [outer, reduced, inner], outShape })[0];
  }
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const moved = transposeRaw(x, [...kept, ...axes]);
  const outer = sizeOf(kept.map((a) => x.shape[a]));
  const r = runKernel('reduce', [moved], { op, block: [outer, sizeOf(axes.map((a) => x.shape[a])), 1], outShape })[0];
  moved.dispose();
  return r;
}

/** Sum over `axis` (all axes when omitted). */
export function sum(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  const axes = resolveAxes('sum', axis, x.ndim);
  const y = reduceRaw('sum', x, axes, keepDims);
  return record(y, 'sum', [x], (dy) => {
    const dyKeep = reshape(dy, reducedShape(x.shape, axes, true));
    const dx = expandTo(dyKeep, x.shape);
    dyKeep.dispose();
    return [dx];
  });
}

export function mean(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  const axes = resolveAxes('mean', axis, x.ndim);
  const count = sizeOf(axes.map((a) => x.shape[a]));
  const s = sum(x, axes, keepDims);
  const m = affine(s, 1 / count, 0);
  s.dispose();
  return m;
}

function extremum(op: 'max' | 'min', x: Tensor, axis: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const axes = resolveAxes(op, axis, x.ndim);
  const y = reduceRaw(op, x, axes, keepDims);
  return record(y, op, [x], (dy) => {
    // The gradient goes to every position equal to the extremum (PyTorch's amax/amin split it evenly).
    const shapeKeep = reducedShape(x.shape, axes, true);
    const yKeep = reshape(y, shapeKeep);
    const mask = runKernel('binary', [x, yKeep], { op: 'equal', outShape: [...x.shape] })[0];
    const count = reduceRaw('sum', mask, axes, true);
    const dyKeep = reshape(dy, shapeKeep);
    const share = runKernel('binary', [dyKeep, count], { op: 'div', outShape: shapeKeep })[0];
    const dx = runKernel('binary', [mask, share], { op: 'mul', outShape: [...x.shape] })[0];
    for (const t of [yKeep, mask, count, dyKeep, share]) t.dispose();
    return [dx];
  });
}

export const max = (x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor => extremum('max', x, axis, keepDims);
export const min = (x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor => extremum('min', x, axis, keepDims);

/** Index of the largest value along `axis` (int32; the first one on ties). */
export function argmax(x: Tensor, axis: number, keepDims = false): Tensor {
  const a = normalizeAxis('argmax', axis, x.ndim);
  const block = [sizeOf(x.shape.slice(0, a)), x.shape[a], sizeOf(x.shape.slice(a + 1))];
  return runKernel('argmax', [x], { block, outShape: reducedShape(x.shape, [a], keepDims) })[0];
}

/**
 * Sums a broadcast gradient back to `shape` (the adjoint of broadcasting). Returns a view
 * when nothing was broadcast.
 */
export function sumTo(t: Tensor, shape: readonly number[]): Tensor {
  if (t.shape.join() === shape.join()) return reshape(t, shape);
  const lead = t.ndim - shape.length;
  if (lead < 0) throw new Error(`internal: sumTo cannot grow ${fmt(t.shape)} to ${fmt(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < t.ndim; i++) if (i < lead || (shape[i - lead] === 1 && t.shape[i] !== 1)) axes.push(i);
  const r = reduceRaw('sum', t, axes, true);
  const out = reshape(r, shape);
  r.dispose();
  return out;
}
