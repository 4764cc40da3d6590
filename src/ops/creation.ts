import { ENGINE, runKernel } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { allocTyped, dtypeOfArray, type DType, type TypedArray } from '../tensor/dtype.js';
import { float16Value, toFloat16Bits } from '../tensor/float16.js';
import type { Rng } from '../tensor/rng.js';
import { fmt, sizeOf } from './util.js';

function checkShape(op: string, shape: readonly number[]): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${op}: shape ${fmt(shape)} must contain non-negative integers`);
}

type NestedNumbers = number | NestedNumbers[];

function inferShape(values: NestedNumbers): number[] {
  const shape: number[] = [];
  let v: NestedNumbers = values;
  while (Array.isArray(v)) {
    shape.push(v.length);
    v = v[0];
  }
  return shape;
}

/**
 * Creates a tensor from a typed array (no copy on the CPU backend) or nested number arrays.
 * `tensor([[1, 2], [3, 4]])`, `tensor(new Float32Array(6), [2, 3])`, `tensor([1, 2], [2], 'int32')`.
 */
export function tensor(values: TypedArray | NestedNumbers, shape?: readonly number[], dtype?: DType): Tensor {
  let array: TypedArray;
  if (ArrayBuffer.isView(values)) {
    if (dtype === 'float16' && !(values instanceof Uint16Array)) array = toFloat16Bits(values);
    else if (dtype && dtype !== dtypeOfArray(values)) array = allocTyped(dtype, values.length).map((_, i) => (values instanceof Uint16Array ? float16Value(values[i]) : values[i]));
    else array = values;
    shape ??= [values.length];
  } else {
    const inferred = inferShape(values);
    shape ??= inferred;
    const flat = (Array.isArray(values) ? (values as unknown[]).flat(Infinity) : [values]) as number[];
    if (dtype === 'float16') {
      array = toFloat16Bits(flat);
    } else {
      array = allocTyped(dtype ?? 'float32', flat.length);
      for (let i = 0; i < flat.length; i++) array[i] = flat[i];
    }
  }
  checkShape('tensor', shape);
  if (sizeOf(shape) !== array.length) throw new Error(`tensor: ${array.length} values do not fill shape ${fmt(shape)} (${sizeOf(shape)} elements)`);
  const backend = ENGINE.backend();
  return Tensor.fromStorage(backend.upload(array), shape, dtypeOfArray(array), backend);
}

export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return tensor(allocTyped(dtype, 1).fill(value), [], dtype);
}

export function full(shape: readonly number[], value: number, dtype: DType = 'float32'): Tensor {
  checkShape('full', shape);
  return runKernel('fill', [], { shape: [...shape], dtype, value })[0];
}

export const zeros = (shape: readonly number[], dtype: DType = 'float32'): Tensor => full(shape, 0, dtype);
export const ones = (shape: readonly number[], dtype: DType = 'float32'): Tensor => full(shape, 1, dtype);

export function fullLike(t: Tensor, value: number): Tensor {
  return runKernel('fill', [], { shape: [...t.shape], dtype: t.dtype, value, backend: t.backend.name })[0];
}
export const zerosLike = (t: Tensor): Tensor => fullLike(t, 0);
export const onesLike = (t: Tensor): Tensor => fullLike(t, 1);

/** Normal samples (mean 0, std 1 by default) from the seeded default generator or `rng`. */
export function randn(shape: readonly number[], opts: { mean?: number; std?: number; dtype?: DType; rng?: Rng } = {}): Tensor {
  checkShape('randn', shape);
  const rng = opts.rng ?? ENGINE.rng;
  const values = allocTyped(opts.dtype ?? 'float32', sizeOf(shape));
  if (!randomInit) return tensor(values, shape);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal(opts.mean ?? 0, opts.std ?? 1);
  return tensor(values, shape);
}

let randomInit = true;

/**
 * Runs `fn` with randn/rand returning zeros: building a model whose every parameter is about
 * to be overwritten by loaded weights then skips drawing millions of random numbers.
 */
export function withoutRandomInit<T>(fn: () => T): T {
  const before = randomInit;
  randomInit = false;
  try {
    return fn();
  } finally {
    randomInit = before;
  }
}

/** Uniform samples in [low, high) from the seeded default generator or `rng`. */
export function rand(shape: readonly number[], opts: { low?: number; high?: number; dtype?: DType; rng?: Rng } = {}): Tensor {
  checkShape('rand', shape);
  const rng = opts.rng ?? ENGINE.rng;
  const values = allocTyped(opts.dtype ?? 'float32', sizeOf(shape));
  if (!randomInit) return tensor(values, shape);
  for (let i = 0; i < values.length; i++) values[i] = rng.uniform(opts.low ?? 0, opts.high ?? 1);
  return tensor(values, shape);
}

export function arange(start: number, stop?: number, step = 1, dtype: DType = 'float32'): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const values = allocTyped(dtype, n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return tensor(values, [n]);
}
