import { allocTyped, dtypeOfArray, type DType, type TypedArray } from '../../tensor/dtype.js';
import type { WasmHeap } from './wasm/heap.js';

/**
 * Recycles the typed arrays of freed CPU tensors. A fresh large typed array costs a page fault
 * per 4 KiB on first touch (measured here: ~18 ms for 6.4 MB, against 0.25 ms to zero a reused
 * one), which on a training step is more than some kernels take. Only arrays the backend
 * allocated itself come back here, never arrays a user handed to `tensor()`.
 */
const MIN_ELEMENTS = 4096;
const LIMIT_BYTES = 512 * 2 ** 20;
const pools = new Map<string, TypedArray[]>();
let pooledBytes = 0;

const keyOf = (dtype: DType, size: number): string => `${dtype}:${size}`;

let heap: WasmHeap | null = null;

/**
 * Makes float32/int32 arrays of at least MIN_ELEMENTS live in the WebAssembly kernels' memory
 * (see wasm/heap.ts), so that kernels read and write them in place. Set by the kernel loader.
 */
export function useWasmHeap(h: WasmHeap | null): void {
  heap = h;
}

function takeFromHeap(dtype: 'float32' | 'int32', size: number, zeroed: boolean): TypedArray | null {
  const address = heap!.alloc(size * 4);
  if (address < 0) return null;
  const view = heap!.view(dtype, address, size);
  if (zeroed) view.fill(0);
  return view;
}

/**
 * A zero-filled array, reused when one of this type and length was freed. `zeroed: false`
 * skips clearing a reused one, for callers that overwrite every element.
 */
export function takeArray(dtype: DType, size: number, zeroed = true): TypedArray {
  if (heap && size >= MIN_ELEMENTS && (dtype === 'float32' || dtype === 'int32')) {
    const fromHeap = takeFromHeap(dtype, size, zeroed);
    if (fromHeap) return fromHeap;
  }
  if (size >= MIN_ELEMENTS) {
    const pool = pools.get(keyOf(dtype, size));
    const reused = pool?.pop();
    if (reused) {
      pooledBytes -= reused.byteLength;
      if (zeroed) reused.fill(0);
      return reused;
    }
  }
  return allocTyped(dtype, size);
}

/** Returns an array nobody references any more. */
export function giveArray(values: TypedArray): void {
  if (heap && heap.isBlock(values)) {
    heap.release(values.byteOffset, values.byteLength);
    return;
  }
  if (values.length < MIN_ELEMENTS || values.byteOffset !== 0 || values.buffer.byteLength !== values.byteLength) return;
  if (pooledBytes + values.byteLength > LIMIT_BYTES) return;
  const key = keyOf(dtypeOfArray(values), values.length);
  let pool = pools.get(key);
  if (!pool) pools.set(key, (pool = []));
  pool.push(values);
  pooledBytes += values.byteLength;
}
