import type { Backend, KernelOutput, KernelTensor, Storage } from '../backend.js';
import { giveArray, takeArray } from './array-pool.js';
import { BYTES_PER_ELEMENT, dtypeOfArray, type DType, type TypedArray } from '../../tensor/dtype.js';

/** CPU storage: a typed array on the JavaScript heap. */
export class CpuStorage implements Storage {
  readonly backend = 'cpu';
  refCount = 0;
  /** `owned`: the backend allocated the array (kernel output), so it may be recycled when freed. */
  constructor(readonly values: TypedArray, readonly owned = false) {}
  get byteLength(): number {
    return this.values.byteLength;
  }
}

/** The reference backend: plain TypeScript kernels on typed arrays; the oracle for every other backend. */
export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly hostResident = true;
  private bytes = 0;

  upload(values: TypedArray): Storage {
    this.bytes += values.byteLength;
    return new CpuStorage(values);
  }

  allocate(dtype: DType, size: number): Storage {
    this.bytes += size * BYTES_PER_ELEMENT[dtype];
    return new CpuStorage(takeArray(dtype, size), true);
  }

  async read(storage: Storage, dtype: DType, size: number): Promise<TypedArray> {
    return this.readSync(storage, dtype, size);
  }

  readSync(storage: Storage, _dtype: DType, _size: number): TypedArray {
    return (storage as CpuStorage).values.slice();
  }

  free(storage: Storage): void {
    this.bytes -= storage.byteLength;
    const s = storage as CpuStorage;
    if (s.owned) giveArray(s.values);
  }

  bytesInUse(): number {
    return this.bytes;
  }

  /** Wraps a typed array computed by a kernel as a kernel output. */
  output(values: TypedArray, shape: readonly number[]): KernelOutput {
    const size = shape.reduce((a, b) => a * b, 1);
    if (values.length !== size) throw new Error(`internal: kernel produced ${values.length} values for shape [${shape.join(', ')}]`);
    this.bytes += values.byteLength;
    return { storage: new CpuStorage(values, true), shape: [...shape], dtype: dtypeOfArray(values) };
  }
}

/** The values of a kernel input on the CPU backend (no copy). */
export function valuesOf(t: KernelTensor): TypedArray {
  return (t.storage as CpuStorage).values;
}
