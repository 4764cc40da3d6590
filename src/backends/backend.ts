import type { DType, TypedArray } from '../tensor/dtype.js';

/**
 * Memory owned by a backend: a typed array on the CPU, a GPU buffer on WebGPU. The engine
 * reference-counts it because views (reshape) share storage with their source.
 */
export interface Storage {
  readonly backend: string;
  readonly byteLength: number;
  refCount: number;
}

/** A tensor as a kernel sees it: its storage, shape and dtype (always contiguous row-major). */
export interface KernelTensor {
  readonly storage: Storage;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** What a kernel returns: new storage with its shape and dtype. */
export interface KernelOutput {
  storage: Storage;
  shape: number[];
  dtype: DType;
}

/**
 * The device-facing half of fovea. A backend allocates, uploads, reads back and frees storage;
 * the compute lives in kernels registered for it (see registry.ts). Reading back is
 * asynchronous by contract, because GPU backends can only map buffers asynchronously;
 * `readSync` exists only where the memory is host-resident.
 */
export interface Backend {
  readonly name: string;
  /** Whether values can be read synchronously (true for the CPU backend only). */
  readonly hostResident: boolean;
  upload(values: TypedArray): Storage;
  allocate(dtype: DType, size: number): Storage;
  read(storage: Storage, dtype: DType, size: number): Promise<TypedArray>;
  readSync(storage: Storage, dtype: DType, size: number): TypedArray;
  free(storage: Storage): void;
  /** Bytes currently held by live storage of this backend. */
  bytesInUse(): number;
}
