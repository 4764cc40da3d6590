/**
 * Same-shape float32 addition on the WebAssembly kernels (assembly/elementwise.ts), split over
 * the thread pool: residual adds and gradient accumulation. With the operands on the tensor
 * heap nothing is copied; otherwise they are copied in once.
 */
import type { WasmKernels } from './module.js';
import { finishOutput, outputSlot } from './arena.js';
import { runElementwise } from './split.js';

/** Below this many elements the reference loop is as fast (no call or task overhead). */
export const WASM_ADD_MIN_SIZE = 1 << 14;

export function wasmAdd(k: WasmKernels, a: Float32Array, b: Float32Array): Float32Array {
  const n = a.length;
  const arena = k.arena;
  arena.reset();
  const pa = arena.copyIn(a);
  const pb = arena.copyIn(b.subarray(0, n));
  const out = outputSlot(arena, 'float32', n);
  const y = out.address;
  runElementwise(k, n, (i0, len) => ({ fn: 'add_f32', args: [pa + 4 * i0, pb + 4 * i0, y + 4 * i0, len] }));
  return finishOutput(arena, out);
}
