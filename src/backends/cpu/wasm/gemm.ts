/**
 * float32 GEMM on the WebAssembly kernels (assembly/gemm.ts). The same contract as the reference
 * `gemm` / `batchedGemm` (src/backends/cpu/kernels/matmul.ts): row-major, contiguous,
 * C = alpha * op(A) @ op(B) + beta * C, beta = 0 ignoring C's prior contents.
 *
 * Every call resets the kernels' arena, copies its operands into the WebAssembly memory once,
 * runs, and copies the result out; nothing stays allocated between calls.
 *
 * Threads (runGemm): with a thread pool of T > 1 joined threads and at least
 * GEMM_THREAD_MIN_WORK multiply-adds in the call, the work is cut into about
 * TASKS_PER_THREAD * T tasks, claimed dynamically by the pool's threads:
 *  - a batch of products is split over the products (gemm_batch_desc, whole products per task);
 *  - one large product (and the products a batch cannot share out evenly) is split by columns
 *    of C when N >= M (op(A) packed once by the calling thread, each task packs only its own
 *    columns of B: gemm_tile_desc), else by rows in multiples of gemm_mr() (each task an
 *    independent product on its rows, packing its own rows of op(A): gemm_batch_desc).
 * Every task has its own scratch from the arena. Each element of C is computed by the same
 * sequence of operations whichever way C is cut, so results equal the single-threaded ones
 * bit for bit.
 */
import type { WasmKernels } from './module.js';
import { copyOutF32 } from './arena.js';
import { kernelPool } from './threads.js';
import { MAX_TASKS, type Task, type ThreadPool } from './thread-pool.js';

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
  /** Rows [m0, m1) of products [i0, i1) of a batch, each an independent gemm_f32 (see writeGemmBatchDesc). */
  gemm_batch_desc(desc: number, i0: number, i1: number, m0: number, m1: number, scratch: number): void;
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
  /** Clamp the results to [low, high] (a fused ReLU / ReLU6), or none. */
  clamp?: readonly [number, number] | null;
}

/** Bytes of a gemm_tile_desc descriptor (16-byte aligned allocations suffice). */
export const GEMM_DESC_BYTES = 64;

/** Writes `d` at `address` (GEMM_DESC_BYTES in the kernels' memory) in gemm_tile_desc's layout. */
export function writeGemmDesc(k: WasmKernels, address: number, d: GemmDesc): void {
  const i = new Int32Array(k.memory.buffer, address, GEMM_DESC_BYTES / 4);
  const f = new Float32Array(k.memory.buffer, address, GEMM_DESC_BYTES / 4);
  i.set([d.M, d.N, d.K, 0, d.pa, d.pb, d.transB ? 1 : 0, d.b, d.ldb, 0, d.c, d.ldc, d.bias, d.clamp ? 1 : 0, 0, 0]);
  f[3] = d.alpha;
  f[9] = d.beta;
  if (d.clamp) [f[14], f[15]] = d.clamp;
}

/** The arguments of a batch of products for gemm_batch_desc (addresses and strides in bytes). */
export interface GemmBatchDesc {
  transA: boolean;
  transB: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  a: number;
  lda: number;
  b: number;
  ldb: number;
  beta: number;
  c: number;
  ldc: number;
  /** Bytes from one product's A / B / C to the next's. */
  sa: number;
  sb: number;
  sc: number;
  /** Per-row bias (M floats), or 0. */
  bias: number;
}

/** Writes `d` at `address` (GEMM_DESC_BYTES) in gemm_batch_desc's layout. */
export function writeGemmBatchDesc(k: WasmKernels, address: number, d: GemmBatchDesc): void {
  const i = new Int32Array(k.memory.buffer, address, GEMM_DESC_BYTES / 4);
  const f = new Float32Array(k.memory.buffer, address, GEMM_DESC_BYTES / 4);
  i.set([(d.transA ? 1 : 0) | (d.transB ? 2 : 0), d.M, d.N, d.K, 0, d.a, d.lda, d.b, d.ldb, 0, d.c, d.ldc, d.sa, d.sb, d.sc, d.bias]);
  f[4] = d.alpha;
  f[9] = d.beta;
}

/**
 * Multiply-adds (M * N * K, summed over a call) from which a GEMM or convolution is split over
 * the thread pool. Below it, waking a sleeping worker (tens of microseconds on a VM) costs more
 * than half the work saves. Measured on 2 idle EPYC vCPUs, Node 20, square GEMMs in wasm memory,
 * 1 vs 2 threads: 128^3 = 2^21 92 vs 115 us; 161^3 ~ 2^22 182 vs 155 us; 203^3 ~ 2^23 384 vs
 * 269 us.
 */
export const GEMM_THREAD_MIN_WORK = 2 ** 22;

/** Tasks per joined thread: more than one, so a thread that starts late or is preempted delays the call by a fraction of its share, not all of it. */
export const TASKS_PER_THREAD = 2;

/** How many tasks to cut a job into for `pool` (TASKS_PER_THREAD per thread, within the pool's limit). */
export function taskParts(pool: ThreadPool): number {
  return Math.min(pool.threads * TASKS_PER_THREAD, MAX_TASKS);
}

/** [floor(j * units / parts) * unit, capped at `size`) for j = 0 .. parts: boundaries of `parts` near-equal ranges, multiples of `unit`. */
export function splitRange(size: number, unit: number, parts: number): number[] {
  const units = Math.ceil(size / unit);
  const p = Math.max(1, Math.min(parts, units));
  return Array.from({ length: p + 1 }, (_, j) => Math.min(size, Math.floor((j * units) / p) * unit));
}

/**
 * Scratch regions for the tasks of one kernel call: region j is allocated from the arena on
 * first use and reused by later jobs of the same call when large enough.
 */
export class TaskScratch {
  private readonly regions = new Map<number, { address: number; bytes: number }>();
  constructor(private readonly k: WasmKernels) {}

  /** Region `key` (any number; a job's tasks use distinct keys), at least `bytes`, 16-byte aligned. */
  get(key: number, bytes: number): number {
    const r = this.regions.get(key);
    if (r && r.bytes >= bytes) return r.address;
    const address = this.k.arena.alloc(Math.max(bytes, 16));
    this.regions.set(key, { address, bytes });
    return address;
  }
}

/**
 * Tasks computing C = alpha * op(A) @ op(B) + beta * C (+ bias) with gemm_tile_desc: op(A)
 * already packed (gemm_pack_a), op(B) raw, all described at `desc` (writeGemmDesc). Split by
 * columns of C (boundaries multiples of gemm_nr(); each task packs only its own columns of B)
 * when N >= M, else by rows (multiples of gemm_mr(); each task reads or packs all of B, cheap
 * when N is the smaller side). Task j gets scratch region j of `scratch`.
 */
export function gemmTileTasks(k: WasmKernels, desc: number, M: number, N: number, K: number, parts: number, scratch: TaskScratch): Task[] {
  const e = gemmExports(k);
  const tasks: Task[] = [];
  if (splitByColumns(k, M, N)) {
    const cuts = splitRange(N, u32(e.gemm_nr()), parts);
    for (let j = 0; j + 1 < cuts.length; j++) {
      const [n0, n1] = [cuts[j], cuts[j + 1]];
      tasks.push({ fn: 'gemm_tile_desc', args: [desc, 0, M, n0, n1, scratch.get(j, u32(e.gemm_tile_scratch_bytes(K, n1 - n0, 0)))] });
    }
  } else {
    const cuts = splitRange(M, u32(e.gemm_mr()), parts);
    const bytes = u32(e.gemm_tile_scratch_bytes(K, N, 0));
    for (let j = 0; j + 1 < cuts.length; j++) tasks.push({ fn: 'gemm_tile_desc', args: [desc, cuts[j], cuts[j + 1], 0, N, scratch.get(j, bytes)] });
  }
  return tasks;
}

/** Whether an M x N product is split by columns (N >= M, or too few rows to split) rather than rows. */
function splitByColumns(k: WasmKernels, M: number, N: number): boolean {
  const e = gemmExports(k);
  return N >= M || Math.ceil(M / u32(e.gemm_mr())) < 2;
}

/** A call of runGemm: `batch` products, A_i = a + i * sa (bytes) and so on; bias per row or 0. */
export type GemmCall = GemmBatchDesc & { batch: number };

/**
 * Runs the products of `g` (operands already in the kernels' memory) on the calling thread or,
 * when a pool is running and the work is large enough, split over the pool (see the header).
 */
export function runGemm(k: WasmKernels, g: GemmCall): void {
  const { batch, M, N, K } = g;
  if (batch <= 0 || M <= 0 || N <= 0) return;
  const e = gemmExports(k);
  const pool = kernelPool(k);
  const T = pool ? pool.threads : 1;
  const work = M * N * K;
  if (!pool || batch * work < GEMM_THREAD_MIN_WORK) {
    const scratch = k.arena.alloc(u32(e.gemm_scratch_bytes(M, N, K)));
    for (let i = 0; i < batch; i++) {
      e.gemm_f32(g.transA ? 1 : 0, g.transB ? 1 : 0, M, N, K, g.alpha, g.a + i * g.sa, g.lda, g.b + i * g.sb, g.ldb, g.beta, g.c + i * g.sc, g.ldc, g.bias, scratch);
    }
    return;
  }
  const desc = k.arena.alloc(GEMM_DESC_BYTES);
  writeGemmBatchDesc(k, desc, g);
  // Whole products per task: all of them when there are many (or each is small), else as many
  // as share out evenly; the rest are split one by one.
  const whole = batch >= 4 * T || work < GEMM_THREAD_MIN_WORK ? batch : batch - (batch % T);
  const scratch = new TaskScratch(k);
  if (whole > 0) {
    const cuts = splitRange(whole, 1, taskParts(pool));
    const bytes = u32(e.gemm_scratch_bytes(M, N, K));
    const tasks: Task[] = [];
    for (let j = 0; j + 1 < cuts.length; j++) tasks.push({ fn: 'gemm_batch_desc', args: [desc, cuts[j], cuts[j + 1], 0, M, scratch.get(j, bytes)] });
    pool.run(tasks);
  }
  for (let i = whole; i < batch; i++) splitProduct(k, pool, g, desc, i, scratch);
}

/** Product i of `g` (described at `desc` for gemm_batch_desc) split over the pool by columns or rows. */
function splitProduct(k: WasmKernels, pool: ThreadPool, g: GemmCall, desc: number, i: number, scratch: TaskScratch): void {
  const e = gemmExports(k);
  const { M, N, K } = g;
  const parts = taskParts(pool);
  if (splitByColumns(k, M, N)) {
    // op(A) packed once here; each task packs its own columns of B.
    const pa = scratch.get(-1, u32(e.gemm_packed_a_bytes(M, K)));
    e.gemm_pack_a(g.transA ? 1 : 0, M, K, g.a + i * g.sa, g.lda, pa);
    const tileDesc = scratch.get(-2, GEMM_DESC_BYTES);
    writeGemmDesc(k, tileDesc, { M, N, K, alpha: g.alpha, pa, pb: 0, transB: g.transB, b: g.b + i * g.sb, ldb: g.ldb, beta: g.beta, c: g.c + i * g.sc, ldc: g.ldc, bias: g.bias });
    pool.run(gemmTileTasks(k, tileDesc, M, N, K, parts, scratch));
  } else {
    // Independent products on row ranges: each task packs its own rows of op(A).
    const cuts = splitRange(M, u32(e.gemm_mr()), parts);
    const tasks: Task[] = [];
    for (let j = 0; j + 1 < cuts.length; j++) {
      const [m0, m1] = [cuts[j], cuts[j + 1]];
      tasks.push({ fn: 'gemm_batch_desc', args: [desc, i, i + 1, m0, m1, scratch.get(j, u32(e.gemm_scratch_bytes(m1 - m0, N, K)))] });
    }
    pool.run(tasks);
  }
}

/**
 * A new float32 array (from the CPU array pool: a fresh large array costs a page fault per
 * 4 KiB on first touch) holding the `length` floats at `address` of the kernels' memory.
 */
export function copyOut(k: WasmKernels, address: number, length: number): Float32Array {
  return copyOutF32(k.arena.f32(address, length));
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
  const arena = k.arena;
  arena.reset();
  const pa = arena.copyIn(a.subarray(aOffset, aOffset + M * K));
  const pb = arena.copyIn(b.subarray(bOffset, bOffset + K * N));
  const cView = c.subarray(cOffset, cOffset + M * N);
  const pc = beta === 0 ? arena.alloc(M * N * 4) : arena.copyInFresh(cView);
  runGemm(k, { batch: 1, transA, transB, M, N, K, alpha, a: pa, lda: transA ? M : K, b: pb, ldb: transB ? K : N, beta, c: pc, ldc: N, sa: 0, sb: 0, sc: 0, bias: 0 });
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
  const arena = k.arena;
  arena.reset();
  const sa = M * K;
  const sb = K * N;
  const sc = M * N;
  const pa = arena.copyIn(a.subarray(0, batch * sa));
  const pb = arena.copyIn(b.subarray(0, batch * sb));
  const pc = arena.alloc(batch * sc * 4);
  runGemm(k, { batch, transA, transB, M, N, K, alpha: 1, a: pa, lda: transA ? M : K, b: pb, ldb: transB ? K : N, beta: 0, c: pc, ldc: N, sa: sa * 4, sb: sb * 4, sc: sc * 4, bias: 0 });
  if (!out) return copyOut(k, pc, batch * sc);
  out.set(arena.f32(pc, batch * sc));
  return out;
}
