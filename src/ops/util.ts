import type { Tensor } from '../tensor/tensor.js';
import { isFloat } from '../tensor/dtype.js';

export const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Resolves a possibly negative axis against `rank`, with an error naming the op. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank) throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  return a;
}

/** NumPy broadcasting of two shapes, or an error naming the op and both shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`${op}: shapes ${fmt(a)} and ${fmt(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

export function assertFloat(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) if (!isFloat(t.dtype)) throw new Error(`${op}: expected a float32/float64 tensor, got ${t.dtype} of shape ${fmt(t.shape)} (use .cast('float32'))`);
}

export function assertSameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a.dtype} ${fmt(a.shape)} vs ${b.dtype} ${fmt(b.shape)}); cast one with .cast()`);
}

/** Operands of a product: equal dtypes, or float16 with float32 (mixed precision). */
export function assertProductDtypes(op: string, a: Tensor, b: Tensor): void {
  const mixed = (a.dtype === 'float16' && b.dtype === 'float32') || (a.dtype === 'float32' && b.dtype === 'float16');
  if (!mixed) assertSameDtype(op, a, b);
}

export function assertRank(op: string, name: string, t: Tensor, rank: number, hint = ''): void {
  if (t.ndim !== rank) throw new Error(`${op}: expected ${name} of rank ${rank}${hint ? ` (${hint})` : ''}, got shape ${fmt(t.shape)}`);
}

export function pair(v: number | readonly number[], op: string, name: string): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x))) throw new Error(`${op}: ${name} must be an integer or a pair of integers, got ${JSON.stringify(v)}`);
  return p;
}
