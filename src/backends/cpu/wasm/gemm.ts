/**
 * float32 GEMM on the WebAssembly kernels (assembly/gemm.ts). The same contract as the reference
 * `gemm` / `batchedGemm` (src/backends/cpu/kernels/matmul.ts): row-major, contiguous,
 * C = alpha * op(A) @ op(B) + beta * C, beta = 0 ignoring C's prior contents.
 *
 * Every call resets the kernels' arena, copies its operands into the WebAssembly memory once,
 * runs, and copies the result out; nothing stays allocated between calls.
 */
import type { WasmKernels } from './module.js';
import { takeArray } from '../array-pool.js';

/** The GEMM exports of the kernel module (addresses are byte offsets, booleans 0/1). */
export interface GemmExports {
  gemm_f32(
    transA: number, transB: number, M: number, N: number, K: number, alpha: number, a: number, lda: number,
    b: number, ldb: number, beta: number, c: number, ldc: number, bias: number, scratch: number,
  ): void;
  gemm_pack_a(transA: number, M: number, K: number, a: number, lda: number, dst: number): void;
  gemm_pack_b(transB: number, K: number, N: number, b: number, ldb: number, dst: number): void;
  gemm_tile(
    M: number, N: number, K: number, alpha: number, pa: number, pb: number, transB: number, b: number, ldb: number,
    beta: number, c: number, ldc: number, m0: number, m1: number, n0: number, n1: number, bias: number, scratch: number,
  ): void;
  /** gemm_tile with M .. bias read from a descriptor (see writeGemmDesc): for thread-pool tasks. */
  gemm_tile_desc(desc: number, m0: number, m1: number, n0: number, n1: number, scratch: number): void;
  gemm_scratch_bytes(M: number, N: number, K: number): number;
  gemm_packed_a_bytes(M: number, K: number): number;
  gemm_packed_b_bytes(K: number, N: number): number;
  gemm_tile_scratch_bytes(K: number, width: number, prepackedB: number): number;
  gemm_mr(): number;
  gemm_nr(): number;
}

export function gemmExports(k: WasmKernels): GemmExports {
  return k.exports as unknown as GemmExports;
}

/** The fixed arguments of gemm_tile, as gemm_tile_desc reads them from memory. */
export interface GemmDesc {
  M: number;
  N: number;
  K: number;
  alpha: number;
  /** op(A) packed by gemm_pack_a. */
  pa: number;
  /** op(B) packed by gemm_pack_b, or 0 to read B raw (transB, b, ldb) and pack it per block. */
  pb: number;
  transB: boolean;
  b: number;
  ldb: number;
  beta: number;
  c: number;
  ldc: number;
  /** Per-row bias (M floats), or 0. */
  bias: number;
}

/** Bytes of a gemm_tile_desc descriptor (16-byte aligned allocations suffice). */
export const GEMM_DESC_BYTES = 64;

/** Writes `d` at `address` (GEMM_DESC_BYTES in the kernels' memory) in gemm_tile_desc's layout. */
export function writeGemmDesc(k: WasmKernels, address: number, d: GemmDesc): void {
  const i = new Int32Array(k.memory.buffer, address, GEMM_DESC_BYTES / 4);
  const f = new Float32Array(k.memory.buffer, address, GEMM_DESC_BYTES / 4);
  i.set([d.M, d.N, d.K, 0, d.pa, d.pb, d.transB ? 1 : 0, d.b, d.ldb, 0, d.c, d.ldc, d.bias, 0, 0, 0]);
  f[3] = d.alpha;
  f[9] = d.beta;
}

/**
 * A new float32 array (from the CPU array pool: a fresh large array costs a page fault per
 * 4 KiB on first touch) holding the `length` floats at `address` of the kernels' memory.
 */
export function copyOut(k: WasmKernels, address: number, length: number): Float32Array {
  const out = takeArray('float32', length) as Float32Array;
  out.set(k.arena.f32(address, length));
  return out;
}

/** Sizes come back from wasm as i32; read them as unsigned. */
export const u32 = (x: number): number => x >>> 0;

/**
 * C[cOffset ..] = alpha * op(A) @ op(B) + beta * C on the WebAssembly kernels; arguments as the
 * reference `gemm` (A, B, C float32, C not overlapping A or B).
 */
export function wasmGemm(
  k: WasmKernels,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  beta: number,
  c: Float32Array,
  cOffset: number,
): void {
  if (M <= 0 || N <= 0) return;
  const e = gemmExports(k);
  const arena = k.arena;
  arena.reset();
  const pa = arena.copyIn(a.subarray(aOffset, aOffset + M * K));
  const pb = arena.copyIn(b.subarray(bOffset, bOffset + K * N));
  const cView = c.subarray(cOffset, cOffset + M * N);
  const pc = beta === 0 ? arena.alloc(M * N * 4) : arena.copyIn(cView);
  const scratch = arena.alloc(u32(e.gemm_scratch_bytes(M, N, K)));
  e.gemm_f32(transA ? 1 : 0, transB ? 1 : 0, M, N, K, alpha, pa, transA ? M : K, pb, transB ? K : N, beta, pc, N, 0, scratch);
  cView.set(arena.f32(pc, M * N));
}

/**
 * `batch` independent products C_i = op(A_i) @ op(B_i) (alpha 1, beta 0), A_i, B_i, C_i back to
 * back (strides M*K, K*N, M*N), as the reference `batchedGemm`; returns C (a new array, or `out`).
 */
export function wasmBatchedGemm(
  k: WasmKernels,
  batch: number,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: Float32Array,
  b: Float32Array,
  out?: Float32Array,
): Float32Array {
  if (batch <= 0 || M <= 0 || N <= 0) return out ?? new Float32Array(Math.max(0, batch * M * N));
  const e = gemmExports(k);
  const arena = k.arena;
  arena.reset();
  const sa = M * K;
  const sb = K * N;
  const sc = M * N;
  const pa = arena.copyIn(a.subarray(0, batch * sa));
  const pb = arena.copyIn(b.subarray(0, batch * sb));
  const pc = arena.alloc(batch * sc * 4);
  const scratch = arena.alloc(u32(e.gemm_scratch_bytes(M, N, K)));
  const lda = transA ? M : K;
  const ldb = transB ? K : N;
  for (let i = 0; i < batch; i++) {
    e.gemm_f32(transA ? 1 : 0, transB ? 1 : 0, M, N, K, 1, pa + i * sa * 4, lda, pb + i * sb * 4, ldb, 0, pc + i * sc * 4, N, 0, scratch);
  }
  if (!out) return copyOut(k, pc, batch * sc);
  out.set(arena.f32(pc, batch * sc));
  return out;
}
