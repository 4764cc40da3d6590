/**
 * float32 2-D convolution (forward, backward-input, backward-weight) on the WebAssembly kernels:
 * im2col / col2im (assembly/conv.ts) around the packed GEMM (assembly/gemm.ts). Same layout and
 * semantics as the reference kernels (src/backends/cpu/kernels/conv2d.ts): NCHW, weights
 * [outC, inC / groups, kH, kW], Conv2dParams with stride / padding / dilation / groups.
 *
 * Each call resets the arena, copies its inputs into the WebAssembly memory once, runs the
 * kernels over images and groups, and copies the result out. The weights of each group
 * are packed for the GEMM once per call and reused for every image. 1x1, stride-1, unpadded
 * convolutions run the GEMM straight on the input planes (no column matrix); the bias is fused
 * into the forward GEMM's epilogue.
 *
 * Depthwise convolutions (one input channel per group) are not handled here: a GEMM with a
 * single-row inner dimension is the wrong tool; see `isDepthwiseConv`.
 *
 * Threads: with a thread pool of T > 1 joined threads and at least GEMM_THREAD_MIN_WORK
 * multiply-adds in the call (N * groups * outC/groups * kdim * outH * outW), a call is split
 * into tasks that the pool's threads claim dynamically, each with its own column matrix and
 * GEMM scratch from the arena:
 *  - forward and backward-input: over the images (conv2d_forward_images /
 *    conv2d_backward_input_images: about TASKS_PER_THREAD * T runs of consecutive images, each
 *    task im2col + GEMM (+ bias) or GEMM + col2im per image). Images that do not share out
 *    evenly (a batch under 4T that is not a multiple of T, e.g. batch 1) go one by one instead,
 *    when one image is itself above the threshold: im2col / col2im split by channel ranges
 *    (im2col_part_f32 / col2im_part_f32) and the GEMM by columns or rows (gemm_tile_desc);
 *  - backward-weight, a sum over the images: split into disjoint blocks of dW, about one per
 *    thread, by input-channel ranges of each group (also by output-channel rows when that
 *    leaves fewer blocks than threads, e.g. a first layer on 1-channel images); each task runs
 *    the whole batch for its block (conv2d_backward_weight_part), im2col of its channels only,
 *    no partial sums to add up.
 * Every element of every output is computed by the same operations in the same order as on one
 * thread, so results equal the single-threaded ones bit for bit, for any thread count.
 */
import { conv2dOutputShape } from '../kernels/conv2d.js';
import type { Conv2dParams } from '../kernels/types.js';
import type { WasmKernels } from './module.js';
import { MAX_TASKS, type Task, type ThreadPool } from './thread-pool.js';
import { kernelPool } from './threads.js';
import { applyEpilogue, hasEpilogue, type ConvEpilogue } from './epilogue.js';
import { finishOutput, outputSlot } from './arena.js';
import { GEMM_DESC_BYTES, GEMM_THREAD_MIN_WORK, gemmExports, gemmTileTasks, splitRange, taskParts, TaskScratch, u32, writeGemmDesc } from './gemm.js';

/**
 * The conv exports of the kernel module (assembly/conv.ts). `geom` is the address of 13 i32:
 * channels (of the group), height, width, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW.
 */
export interface ConvExports {
  im2col_f32(geom: number, x: number, cols: number): void;
  col2im_f32(geom: number, cols: number, dx: number): void;
  im2col_part_f32(geom: number, c0: number, c1: number, x: number, cols: number): void;
  col2im_part_f32(geom: number, c0: number, c1: number, cols: number, dx: number): void;
  /** Thread-pool task entry points over a descriptor (writeConvDesc; layout in assembly/conv.ts). */
  conv2d_forward_images(desc: number, b0: number, b1: number, cols: number, scratch: number): void;
  conv2d_backward_input_images(desc: number, b0: number, b1: number, cols: number, scratch: number): void;
  conv2d_backward_weight_part(desc: number, gi: number, c0: number, c1: number, m0: number, m1: number, cols: number, scratch: number): void;
}

/** Depthwise: groups == inChannels > 1 with one input channel per group (any channel multiplier). */
export function isDepthwiseConv(p: Conv2dParams): boolean {
  return p.groups > 1 && p.groups === p.inShape[1] && p.weightShape[1] === 1;
}

interface Plan {
  n: number;
  c: number;
  o: number;
  groups: number;
  cg: number;
  og: number;
  /** Input plane size h * w. */
  plane: number;
  /** Rows of the column matrix: cg * kh * kw. */
  kdim: number;
  /** Output positions per plane: outH * outW. */
  npos: number;
  outShape: [number, number, number, number];
  /** 1x1, stride 1, no padding: the input planes are the column matrix. */
  pointwise: boolean;
  /** The im2col / col2im geometry block: channels .. outW (see ConvExports). */
  geom: Int32Array;
}

function plan(p: Conv2dParams): Plan {
  if (isDepthwiseConv(p)) throw new Error('internal: depthwise convolutions do not take the WebAssembly GEMM path');
  const outShape = conv2dOutputShape(p);
  const [n, c, h, w] = p.inShape;
  const [o, cg, kh, kw] = p.weightShape;
  const [, , outH, outW] = outShape;
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  const [dh, dw] = p.dilation;
  return {
    n, c, o, groups: p.groups, cg, og: o / p.groups,
    plane: h * w,
    kdim: cg * kh * kw,
    npos: outH * outW,
    outShape,
    pointwise: kh === 1 && kw === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0,
    geom: Int32Array.of(cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW),
  };
}

function checkSize(name: string, a: Float32Array, expected: number): void {
  if (a.length < expected) throw new Error(`conv2d: ${name} has ${a.length} elements, expected ${expected}`);
}

const convExports = (k: WasmKernels): ConvExports => k.exports as unknown as ConvExports;

/** Bytes of the conv task descriptor: 16 i32 slots, then the clamp (flag, low, high). */
const CONV_DESC_BYTES = 80;

/** Writes the task descriptor of assembly/conv.ts (slot order documented there); returns its address. */
function writeConvDesc(k: WasmKernels, q: Plan, geom: number, x: number, y: number, w: number, packedBytes: number, bias: number, clamp: readonly [number, number] | null = null): number {
  const address = k.arena.alloc(CONV_DESC_BYTES);
  new Int32Array(k.memory.buffer, address, CONV_DESC_BYTES / 4).set([geom, x, y, w, packedBytes, bias, q.c, q.o, q.groups, q.cg, q.og, q.plane, q.kdim, q.npos, q.pointwise ? 1 : 0, q.n, clamp ? 1 : 0, 0, 0, 0]);
  if (clamp) new Float32Array(k.memory.buffer, address + 68, 2).set(clamp);
  return address;
}

/**
 * The activation the GEMM can apply as it stores its results (ReLU, ReLU6: a clamp), when no
 * residual has to be added first; the rest of the epilogue stays a separate pass.
 */
function storeClamp(epilogue: ConvEpilogue | undefined): readonly [number, number] | null {
  if (!epilogue || epilogue.residual) return null;
  if (epilogue.activation === 'relu') return [0, Infinity];
  if (epilogue.activation === 'relu6') return [0, 6];
  return null;
}

/** Multiply-adds of one pass over one image (every group). */
const imageWork = (q: Plan): number => q.groups * q.og * q.kdim * q.npos;

/** The pool to split this call over, or null: none running, or too little work. */
function poolFor(k: WasmKernels, q: Plan): ThreadPool | null {
  const pool = kernelPool(k);
  return pool && q.n * imageWork(q) >= GEMM_THREAD_MIN_WORK ? pool : null;
}

/**
 * Runs `fn` (conv2d_forward_images or conv2d_backward_input_images, described at `desc`) over
 * every image: on the calling thread, or split over the pool in runs of whole images, the
 * images that do not share out evenly going one by one to `splitImage`.
 */
function runImages(
  k: WasmKernels,
  q: Plan,
  fn: 'conv2d_forward_images' | 'conv2d_backward_input_images',
  desc: number,
  colsBytes: number,
  scratchBytes: number,
  splitImage: (pool: ThreadPool, b: number, cols: number, scratch: TaskScratch) => void,
): void {
  const pool = poolFor(k, q);
  if (!pool) {
    convExports(k)[fn](desc, 0, q.n, colsBytes ? k.arena.alloc(colsBytes) : 0, k.arena.alloc(scratchBytes));
    return;
  }
  const T = pool.threads;
  const whole = q.n >= 4 * T || imageWork(q) < GEMM_THREAD_MIN_WORK ? q.n : q.n - (q.n % T);
  const scratch = new TaskScratch(k);
  if (whole > 0) {
    const cuts = splitRange(whole, 1, taskParts(pool));
    const tasks: Task[] = [];
    for (let j = 0; j + 1 < cuts.length; j++) {
      tasks.push({ fn, args: [desc, cuts[j], cuts[j + 1], colsBytes ? scratch.get(2 * j, colsBytes) : 0, scratch.get(2 * j + 1, scratchBytes)] });
    }
    pool.run(tasks);
  }
  if (whole < q.n) {
    // One column matrix, shared by the tasks of each image (fresh: not a region of `scratch`).
    const cols = colsBytes ? k.arena.alloc(colsBytes) : 0;
    for (let b = whole; b < q.n; b++) splitImage(pool, b, cols, scratch);
  }
}

/** im2col (x: the group's planes) or col2im (x: the group's dx planes) tasks over channel ranges. */
function channelTasks(fn: 'im2col_part_f32' | 'col2im_part_f32', geom: number, cg: number, parts: number, x: number, cols: number): Task[] {
  const cuts = splitRange(cg, 1, parts);
  const tasks: Task[] = [];
  for (let j = 0; j + 1 < cuts.length; j++) tasks.push({ fn, args: fn === 'im2col_part_f32' ? [geom, cuts[j], cuts[j + 1], x, cols] : [geom, cuts[j], cuts[j + 1], cols, x] });
  return tasks;
}

/**
 * y = conv(x, w) + bias (bias: outChannels values or null), then the epilogue (residual add,
 * activation) in place; returns [N, outC, outH, outW].
 */
export function wasmConv2dForward(k: WasmKernels, x: Float32Array, w: Float32Array, bias: Float32Array | null, p: Conv2dParams, epilogue?: ConvEpilogue): Float32Array {
  const q = plan(p);
  const { n, c, o, groups, cg, og, plane, kdim, npos } = q;
  checkSize('x', x, n * c * plane);
  checkSize('weight', w, o * kdim);
  if (bias) checkSize('bias', bias, o);
  const g = gemmExports(k);
  const arena = k.arena;
  arena.reset();
  const geom = arena.copyIn(q.geom);
  const xa = arena.copyIn(x.subarray(0, n * c * plane));
  const wa = arena.copyIn(w.subarray(0, o * kdim));
  const ba = bias ? arena.copyIn(bias.subarray(0, o)) : 0;
  const y = outputSlot(arena, 'float32', n * o * npos);
  const ya = y.address;
  // W_g [og, kdim] is op(A) of every image's product: pack it once per group.
  const packedBytes = u32(g.gemm_packed_a_bytes(og, kdim));
  const packed = arena.alloc(groups * packedBytes);
  for (let gi = 0; gi < groups; gi++) g.gemm_pack_a(0, og, kdim, wa + gi * og * kdim * 4, kdim, packed + gi * packedBytes);
  const clamp = storeClamp(epilogue);
  const desc = writeConvDesc(k, q, geom, xa, ya, packed, packedBytes, ba, clamp);
  const colsBytes = q.pointwise ? 0 : kdim * npos * 4;
  runImages(k, q, 'conv2d_forward_images', desc, colsBytes, u32(g.gemm_tile_scratch_bytes(kdim, npos, 0)), (pool, b, cols, scratch) => {
    const parts = taskParts(pool);
    for (let gi = 0; gi < groups; gi++) {
      const xg = xa + (b * c + gi * cg) * plane * 4;
      if (cols) pool.run(channelTasks('im2col_part_f32', geom, cg, parts, xg, cols));
      const d = scratch.get(-1, GEMM_DESC_BYTES);
      writeGemmDesc(k, d, { M: og, N: npos, K: kdim, alpha: 1, pa: packed + gi * packedBytes, pb: 0, transB: false, b: cols || xg, ldb: npos, beta: 0, c: ya + (b * o + gi * og) * npos * 4, ldc: npos, bias: ba ? ba + gi * og * 4 : 0, clamp });
      pool.run(gemmTileTasks(k, d, og, npos, kdim, parts, scratch));
    }
  });
  const rest = clamp ? undefined : epilogue;
  if (hasEpilogue(rest)) applyEpilogue(k, ya, n * o * npos, rest);
  return finishOutput(arena, y);
}

/** dx = the adjoint of conv(., w) applied to dy ([N, outC, outH, outW]); returns p.inShape. */
export function wasmConv2dBackwardInput(k: WasmKernels, dy: Float32Array, w: Float32Array, p: Conv2dParams): Float32Array {
  const q = plan(p);
  const { n, c, o, groups, cg, og, plane, kdim, npos } = q;
  checkSize('dy', dy, n * o * npos);
  checkSize('weight', w, o * kdim);
  const g = gemmExports(k);
  const arena = k.arena;
  arena.reset();
  const geom = arena.copyIn(q.geom);
  const dya = arena.copyIn(dy.subarray(0, n * o * npos));
  const wa = arena.copyIn(w.subarray(0, o * kdim));
  const dx = outputSlot(arena, 'float32', n * c * plane);
  const dxa = dx.address;
  // op(A) = W_g^T [kdim, og]: W_g is stored [og, kdim], i.e. transposed with leading dimension kdim.
  const packedBytes = u32(g.gemm_packed_a_bytes(kdim, og));
  const packed = arena.alloc(groups * packedBytes);
  for (let gi = 0; gi < groups; gi++) g.gemm_pack_a(1, kdim, og, wa + gi * og * kdim * 4, kdim, packed + gi * packedBytes);
  const desc = writeConvDesc(k, q, geom, dxa, dya, packed, packedBytes, 0);
  const colsBytes = q.pointwise ? 0 : kdim * npos * 4;
  // dcols [kdim, npos] = W_g^T @ dy_g (straight into dx for pointwise), then col2im scatter-adds.
  runImages(k, q, 'conv2d_backward_input_images', desc, colsBytes, u32(g.gemm_tile_scratch_bytes(og, npos, 0)), (pool, b, cols, scratch) => {
    const parts = taskParts(pool);
    for (let gi = 0; gi < groups; gi++) {
      const dxg = dxa + (b * c + gi * cg) * plane * 4;
      const d = scratch.get(-1, GEMM_DESC_BYTES);
      writeGemmDesc(k, d, { M: kdim, N: npos, K: og, alpha: 1, pa: packed + gi * packedBytes, pb: 0, transB: false, b: dya + (b * o + gi * og) * npos * 4, ldb: npos, beta: 0, c: cols || dxg, ldc: npos, bias: 0 });
      pool.run(gemmTileTasks(k, d, kdim, npos, og, parts, scratch));
      if (cols) {
        arena.f32(dxg, cg * plane).fill(0);
        pool.run(channelTasks('col2im_part_f32', geom, cg, parts, dxg, cols));
      }
    }
  });
  return finishOutput(arena, dx);
}

/** dw = d<conv(x, w), dy>/dw summed over the batch; returns p.weightShape. */
export function wasmConv2dBackwardWeight(k: WasmKernels, x: Float32Array, dy: Float32Array, p: Conv2dParams): Float32Array {
  const q = plan(p);
  const { n, c, o, groups, cg, og, plane, kdim, npos } = q;
  checkSize('x', x, n * c * plane);
  checkSize('dy', dy, n * o * npos);
  const g = gemmExports(k);
  const cv = convExports(k);
  const arena = k.arena;
  arena.reset();
  const geom = arena.copyIn(q.geom);
  const xa = arena.copyIn(x.subarray(0, n * c * plane));
  const dya = arena.copyIn(dy.subarray(0, n * o * npos));
  const dw = outputSlot(arena, 'float32', o * kdim);
  const dwa = dw.address;
  const desc = writeConvDesc(k, q, geom, xa, dya, dwa, 0, 0);
  const kk = kdim / cg;
  const pool = poolFor(k, q);
  const tasks: Task[] = [];
  if (pool) {
    // Disjoint blocks of dW, about one per thread (narrower blocks measured slower: each packs
    // and multiplies a thinner slice of the column matrix): input-channel ranges of each group,
    // and output-channel rows too when that leaves fewer blocks than threads (every row block
    // repeats the im2col of its channels). Each block runs the whole batch.
    const T = pool.threads;
    const chCuts = splitRange(cg, 1, Math.ceil(T / groups));
    const chunks = chCuts.length - 1;
    const mr = u32(g.gemm_mr());
    const rowCuts = groups * chunks >= T ? [0, og] : splitRange(og, og >= 2 * mr ? mr : 1, Math.ceil(T / (groups * chunks)));
    const scratch = new TaskScratch(k);
    for (let gi = 0; gi < groups; gi++) {
      for (let i = 0; i < chunks; i++) {
        const [c0, c1] = [chCuts[i], chCuts[i + 1]];
        for (let j = 0; j + 1 < rowCuts.length; j++) {
          const [m0, m1] = [rowCuts[j], rowCuts[j + 1]];
          const key = 2 * tasks.length;
          const cols = q.pointwise ? 0 : scratch.get(key, (c1 - c0) * kk * npos * 4);
          tasks.push({ fn: 'conv2d_backward_weight_part', args: [desc, gi, c0, c1, m0, m1, cols, scratch.get(key + 1, u32(g.gemm_scratch_bytes(m1 - m0, (c1 - c0) * kk, npos)))] });
        }
      }
    }
  }
  if (pool && tasks.length > 1 && tasks.length <= MAX_TASKS) {
    pool.run(tasks);
  } else {
    const cols = q.pointwise ? 0 : arena.alloc(kdim * npos * 4);
    const scratch = arena.alloc(u32(g.gemm_scratch_bytes(og, kdim, npos)));
    for (let gi = 0; gi < groups; gi++) cv.conv2d_backward_weight_part(desc, gi, 0, cg, 0, og, cols, scratch);
  }
  return finishOutput(arena, dw);
}
