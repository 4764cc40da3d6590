import { CONTROL_BYTES, CONTROL_OFFSET } from './thread-pool.js';
import { takeArray } from '../array-pool.js';
import type { WasmHeap } from './heap.js';

/**
 * A bump allocator over the kernels' WebAssembly memory. A kernel call resets it, copies its
 * inputs in, allocates outputs and scratch, runs, and copies the outputs out; nothing lives
 * across calls, so there is nothing to free and nothing to leak. Memory grows on demand and is
 * kept for the next call.
 */
export class Arena {
  private top = 0;
  /** Bytes below this offset hold the thread pool's control block. */
  private readonly base = CONTROL_OFFSET + CONTROL_BYTES;
  /** Tensor storage inside this memory (shared memory only), read in place by copyIn. */
  heap: WasmHeap | null = null;

  constructor(private readonly memory: WebAssembly.Memory, private readonly limit = Infinity) {
    this.top = this.base;
  }

  reset(): void {
    this.top = this.base;
  }

  /** Reserves `bytes` (16-byte aligned, for v128 loads) and returns the address. */
  alloc(bytes: number): number {
    const address = (this.top + 15) & ~15;
    const end = address + bytes;
    if (end > this.limit) {
      throw new Error(`WebAssembly kernels: one call needs more than ${((this.limit - this.base) / 2 ** 20).toFixed(0)} MiB of scratch memory; use a smaller batch`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / 65536);
      try {
        this.memory.grow(pages);
      } catch {
        throw new Error(`WebAssembly kernels: cannot grow memory to ${(end / 2 ** 20).toFixed(0)} MiB (a tensor too large for the 4 GiB wasm32 address space?)`);
      }
    }
    this.top = end;
    return address;
  }

  /**
   * The address of `values` for a kernel that only reads them: their own address when they
   * already live in this memory (tensor storage on the heap), else a copy's.
   */
  copyIn(values: Float32Array | Int32Array): number {
    if (this.heap && this.heap.owns(values)) return values.byteOffset;
    return this.copyInFresh(values);
  }

  /** Copies `values` into a new allocation (for kernels that write over their input) and returns its address. */
  copyInFresh(values: Float32Array | Int32Array): number {
    const address = this.alloc(values.byteLength);
    new Uint8Array(this.memory.buffer, address, values.byteLength).set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    return address;
  }

  /** A Float32Array view of `length` floats at `address` (valid until the memory grows). */
  f32(address: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, address, length);
  }

  i32(address: number, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, address, length);
  }

  get bytesReserved(): number {
    return this.memory.buffer.byteLength;
  }
}

/**
 * The address where a kernel may write its result straight into `out` (an array of the CPU
 * backend that lives on the heap), or -1 when `out` is a JavaScript array.
 */
export function outputAddress(arena: Arena, out: Float32Array): number {
  return arena.heap && arena.heap.owns(out) ? out.byteOffset : -1;
}

/** Where a kernel writes one output: `address`, and the array the output ends up in. */
export interface OutputSlot<T extends Float32Array | Int32Array> {
  values: T;
  address: number;
  /** The kernel writes straight into `values` (heap storage); otherwise finishOutput copies. */
  direct: boolean;
}

/** Allocates a kernel output of `length` elements: in place on the heap when it can, else in scratch. */
export function outputSlot(arena: Arena, kind: 'float32', length: number): OutputSlot<Float32Array>;
export function outputSlot(arena: Arena, kind: 'int32', length: number): OutputSlot<Int32Array>;
export function outputSlot(arena: Arena, kind: 'float32' | 'int32', length: number): OutputSlot<Float32Array | Int32Array> {
  const values = takeArray(kind, length, false) as Float32Array | Int32Array;
  const direct = !!arena.heap && arena.heap.owns(values);
  return { values, address: direct ? values.byteOffset : arena.alloc(length * 4), direct };
}

/** The output array of `slot`, copied out of scratch when the kernel could not write it in place. */
export function finishOutput<T extends Float32Array | Int32Array>(arena: Arena, slot: OutputSlot<T>): T {
  if (!slot.direct) {
    const view = slot.values instanceof Float32Array ? arena.f32(slot.address, slot.values.length) : arena.i32(slot.address, slot.values.length);
    slot.values.set(view);
  }
  return slot.values;
}

/** A copy of a view of WebAssembly memory in a (pooled) array of the CPU backend. */
export function copyOutF32(view: Float32Array): Float32Array {
  const out = takeArray('float32', view.length, false) as Float32Array;
  out.set(view);
  return out;
}

export function copyOutI32(view: Int32Array): Int32Array {
  const out = takeArray('int32', view.length, false) as Int32Array;
  out.set(view);
  return out;
}
