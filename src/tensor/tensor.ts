import type { Backend, Storage } from '../backends/backend.js';
import { type DType, type TypedArray } from './dtype.js';
import { fromFloat16Bits } from './float16.js';

/** float16 storage reads back as its values, not its bit patterns. */
const decodeHalf = (values: TypedArray): TypedArray => (values instanceof Uint16Array ? fromFloat16Bits(values) : values);
import { ENGINE } from './engine.js';
import * as ops from '../ops/index.js';
import { backward as runBackward } from './autograd.js';

/** The backward half of an op: maps the output gradient to one gradient per input. */
export interface GradFn {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  backward(dy: Tensor): readonly (Tensor | null)[];
}

interface Held {
  storage: Storage;
  backend: Backend;
}

let leaked = 0;
const finalizer = new FinalizationRegistry<Held>((held) => {
  // Safety net only: a tensor was garbage-collected without dispose(); free its storage.
  leaked++;
  ENGINE.liveTensors--;
  ENGINE.release(held.storage, held.backend);
});

/** Number of tensors garbage-collected without being disposed (a leak report for tests). */
export function leakedTensorCount(): number {
  return leaked;
}

let nextId = 1;

/**
 * An n-dimensional array on a backend, contiguous row-major (NCHW for images), with optional
 * gradient tracking. Values are read asynchronously (`await t.data()`) because GPU backends
 * can only read back asynchronously; `dataSync()` works for host-resident (CPU) tensors only.
 */
export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly size: number;
  private held: Held | null;
  private home: Backend;
  /** Whether gradients flow to this tensor; set on leaves with requiresGrad_(). */
  requiresGrad = false;
  /** Accumulated gradient of a leaf after backward(). */
  grad: Tensor | null = null;
  /** The op that produced this tensor, when it was recorded for autograd. */
  gradFn: GradFn | null = null;
  /** Bumped whenever assign() replaces the values in place (caches derived from a tensor check it). */
  version = 0;

  private constructor(storage: Storage, shape: readonly number[], dtype: DType, backend: Backend) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
    this.home = backend;
    this.held = { storage, backend };
    finalizer.register(this, this.held, this);
    ENGINE.track(this);
  }

  /** Wraps backend storage; takes one reference to it. For backends and ops. */
  static fromStorage(storage: Storage, shape: readonly number[], dtype: DType, backend: Backend): Tensor {
    ENGINE.retain(storage);
    return new Tensor(storage, shape, dtype, backend);
  }

  /** The backend holding the values (changes only through moveTo). */
  get backend(): Backend {
    return this.home;
  }

  get storage(): Storage {
    if (!this.held) throw new Error(`tensor of shape [${this.shape.join(', ')}] was disposed and cannot be used`);
    return this.held.storage;
  }

  get isDisposed(): boolean {
    return this.held === null;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** Releases the storage now (views of the same storage keep it alive). Idempotent. */
  dispose(): void {
    if (!this.held) return;
    finalizer.unregister(this);
    ENGINE.untrack(this);
    ENGINE.release(this.held.storage, this.held.backend);
    this.held = null;
    // gradFn stays: a disposed intermediate can still be a node of a graph (its storage is not
    // needed for backward; the tensors a backward needs are saved in its closure).
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A copy of the values, read back from the backend (float16 values as a Float32Array). */
  async data(): Promise<TypedArray> {
    return decodeHalf(await this.backend.read(this.storage, this.dtype, this.size));
  }

  /** A copy of the values; only for host-resident backends (cpu). */
  dataSync(): TypedArray {
    if (!this.backend.hostResident) {
      throw new Error(`dataSync() is not available on the '${this.backend.name}' backend, whose memory is not host-resident; use 'await tensor.data()'`);
    }
    return decodeHalf(this.backend.readSync(this.storage, this.dtype, this.size));
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    this.assertOneElement('item');
    return (await this.data())[0];
  }

  itemSync(): number {
    this.assertOneElement('itemSync');
    return this.dataSync()[0];
  }

  private assertOneElement(what: string): void {
    if (this.size !== 1) throw new Error(`${what}(): tensor has ${this.size} elements (shape [${this.shape.join(', ')}]); only one-element tensors have an item`);
  }

  /** Nested arrays of the values (for printing and tests). */
  async array(): Promise<unknown> {
    return nest(await this.data(), this.shape);
  }

  /** Marks a leaf tensor as requiring gradients (in place) and returns it. */
  requiresGrad_(value = true): this {
    if (this.gradFn) throw new Error('requiresGrad_() applies to leaf tensors; this tensor was computed by an op (use detach() first)');
    this.requiresGrad = value;
    return this;
  }

  /** Computes gradients of this tensor with respect to every leaf that requires them. */
  backward(grad?: Tensor): void {
    runBackward(this, grad);
  }

  /** The same values, cut from the autograd graph (shares storage). */
  detach(): Tensor {
    return Tensor.fromStorage(this.storage, this.shape, this.dtype, this.backend);
  }

  /**
   * Replaces this tensor's values by `source`'s, in place, and disposes `source`. Used by
   * optimisers and running statistics: the tensor keeps its identity (and module slot).
   */
  assign(source: Tensor): void {
    if (source.dtype !== this.dtype || source.size !== this.size || source.backend !== this.backend) {
      throw new Error(`assign: source [${source.shape.join(', ')}] ${source.dtype} on ${source.backend.name} does not match target [${this.shape.join(', ')}] ${this.dtype} on ${this.backend.name}`);
    }
    const next = source.storage;
    this.version++;
    ENGINE.retain(next);
    const held = this.held!;
    ENGINE.release(held.storage, held.backend);
    held.storage = next;
    source.dispose();
  }

  /**
   * This tensor's values on backend `name` ('cpu', 'webgpu'): a new tensor (not recorded for
   * autograd; requiresGrad carries over), or this tensor when it is already there.
   */
  async to(name: string): Promise<Tensor> {
    const target = ENGINE.backend(name);
    if (target === this.backend) return this;
    const values = await this.backend.read(this.storage, this.dtype, this.size);
    const moved = Tensor.fromStorage(target.upload(values), this.shape, this.dtype, target);
    moved.requiresGrad = this.requiresGrad;
    return moved;
  }

  /**
   * Moves the values to backend `name` in place: the tensor keeps its identity, so module slots
   * and references stay valid (Module.to uses it). Its gradient, if any, moves too.
   */
  async moveTo(name: string): Promise<void> {
    const target = ENGINE.backend(name);
    if (target === this.backend) return;
    const values = await this.backend.read(this.storage, this.dtype, this.size);
    const storage = target.upload(values);
    ENGINE.retain(storage);
    const held = this.held!;
    ENGINE.release(held.storage, held.backend);
    held.storage = storage;
    held.backend = target;
    this.home = target;
    this.version++;
    if (this.grad) {
      const grad = await this.grad.to(name);
      if (grad !== this.grad) this.grad.dispose();
      this.grad = grad;
    }
  }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype}, backend=${this.backend.name}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }

  // Op methods: thin delegations to the functional ops, so both styles read naturally.
  add(other: Tensor | number): Tensor { return ops.add(this, other); }
  sub(other: Tensor | number): Tensor { return ops.sub(this, other); }
  mul(other: Tensor | number): Tensor { return ops.mul(this, other); }
  div(other: Tensor | number): Tensor { return ops.div(this, other); }
  neg(): Tensor { return ops.neg(this); }
  exp(): Tensor { return ops.exp(this); }
  log(): Tensor { return ops.log(this); }
  sqrt(): Tensor { return ops.sqrt(this); }
  square(): Tensor { return ops.square(this); }
  abs(): Tensor { return ops.abs(this); }
  pow(exponent: number): Tensor { return ops.pow(this, exponent); }
  matmul(other: Tensor): Tensor { return ops.matmul(this, other); }
  sum(axis?: number | number[], keepDims = false): Tensor { return ops.sum(this, axis, keepDims); }
  mean(axis?: number | number[], keepDims = false): Tensor { return ops.mean(this, axis, keepDims); }
  max(axis?: number | number[], keepDims = false): Tensor { return ops.max(this, axis, keepDims); }
  argmax(axis: number): Tensor { return ops.argmax(this, axis); }
  reshape(shape: readonly number[]): Tensor { return ops.reshape(this, shape); }
  flatten(startDim = 0, endDim = -1): Tensor { return ops.flatten(this, startDim, endDim); }
  permute(axes: readonly number[]): Tensor { return ops.permute(this, axes); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return ops.transpose(this, dim0, dim1); }
  relu(): Tensor { return ops.relu(this); }
  sigmoid(): Tensor { return ops.sigmoid(this); }
  tanh(): Tensor { return ops.tanh(this); }
  softmax(axis = -1): Tensor { return ops.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return ops.logSoftmax(this, axis); }
  cast(dtype: DType): Tensor { return ops.cast(this, dtype); }
  clone(): Tensor { return ops.clone(this); }
}

function nest(values: TypedArray, shape: readonly number[]): unknown {
  if (shape.length === 0) return values[0];
  const [n, ...rest] = shape;
  const step = rest.reduce((a, b) => a * b, 1);
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) out.push(rest.length ? nest(values.subarray(i * step, (i + 1) * step) as TypedArray, rest) : values[i]);
  return out;
}
