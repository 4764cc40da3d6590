// The WebAssembly GEMM and convolutions split over the thread pool (src/backends/cpu/wasm/gemm.ts
// runGemm, src/backends/cpu/wasm/conv.ts) against the same kernels on one thread: every split
// computes each output element by the same operations in the same order, so results must be
// equal bit for bit, for 2 and 3 threads, whichever path (split over products / images,
// by columns / rows, per-image im2col + GEMM split, dW blocks) a shape takes. Then a training
// step of the canonical CNN through the public API with 1 and 2 threads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import type { Conv2dParams } from '../../../../src/backends/cpu/kernels/types.js';
import { GEMM_THREAD_MIN_WORK, wasmBatchedGemm, wasmGemm } from '../../../../src/backends/cpu/wasm/gemm.js';
import { wasmConv2dBackwardInput, wasmConv2dBackwardWeight, wasmConv2dForward } from '../../../../src/backends/cpu/wasm/conv.js';
import { setNumThreads, threadPool } from '../../../../src/backends/cpu/wasm/threads.js';
import { CONTROL_OFFSET, type Task } from '../../../../src/backends/cpu/wasm/thread-pool.js';
import { createModel, cpuKernels, manualSeed, numThreads, ops, randn, setCpuKernels, tensor, type Tensor } from '../../../../src/index.js';
import { kernels, randomF32 } from './util.js';

/** Bit-for-bit equality (compared as int32 so -0 / NaN payloads count too). */
function assertSameBits(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Int32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Int32Array(expected.buffer, expected.byteOffset, expected.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== e[i]) assert.fail(`${what}: element ${i} is ${actual[i]} with threads, ${expected[i]} on one thread`);
  }
}

/** Tasks posted to the pool while running fn (0 on one thread), to check a case really was split. */
function countTasks(fn: () => void): number {
  const pool = threadPool();
  if (!pool) {
    fn();
    return 0;
  }
  let tasks = 0;
  const run = pool.run;
  pool.run = (t: readonly Task[]): void => {
    tasks += t.length;
    run.call(pool, t);
  };
  try {
    fn();
  } finally {
    pool.run = run;
  }
  return tasks;
}

interface Case {
  name: string;
  /** Tasks each call must post with threads: none (below the threshold), one, or several. */
  split: boolean | 'one';
  run: () => Float32Array[];
}

/** Runs every case on 1 thread, then on 2 and 3, and compares; restores 1 thread at the end. */
async function checkCases(cases: Case[]): Promise<void> {
  try {
    await setNumThreads(1);
    const expected = cases.map((c) => c.run());
    for (const threads of [2, 3]) {
      await setNumThreads(threads);
      assert.equal(threadPool()?.threads, threads, 'every worker should have joined after setNumThreads');
      cases.forEach((c, i) => {
        let out: Float32Array[] = [];
        const tasks = countTasks(() => {
          out = c.run();
        });
        if (c.split === 'one') assert.ok(tasks > 0, `${c.name}: expected tasks, posted none`);
        else if (c.split) assert.ok(tasks > 2, `${c.name}: expected a split over ${threads} threads, posted ${tasks} tasks`);
        else assert.equal(tasks, 0, `${c.name}: below the threshold, expected no tasks, posted ${tasks}`);
        out.forEach((o, j) => assertSameBits(o, expected[i][j], `${c.name} (${threads} threads) output ${j}`));
      });
    }
  } finally {
    await setNumThreads(1);
  }
}

test('threaded GEMM equals the single-threaded GEMM bit for bit (transposes, odd sizes, threshold, batches)', async () => {
  const k = kernels();
  const rng = new Rng(5);
  const cases: Case[] = [];
  const edge = Math.cbrt(GEMM_THREAD_MIN_WORK); // 161.3: 160^3 is below the threshold, 163^3 above
  const shapes: [number, number, number][] = [
    [Math.floor(edge) - 1, Math.floor(edge) - 1, Math.floor(edge) - 1],
    [Math.ceil(edge) + 1, Math.ceil(edge) + 1, Math.ceil(edge) + 1],
    [37, 601, 211], // N >= M: split by columns, ragged panels
    [601, 37, 211], // M > N: split by rows
    [13, 1997, 171], // few rows, many columns
    [1003, 9, 503], // many rows, one ragged column panel
    [3, 4, 400_003], // too few rows and columns to split: one task
    [260, 300, 520], // three K blocks, more than 256 rows (B packed, not read in place)
  ];
  for (const [M, N, K] of shapes) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const a = randomF32(rng, M * K + 3);
        const b = randomF32(rng, K * N + 5);
        const c0 = randomF32(rng, M * N + 2);
        const split = M * N * K < GEMM_THREAD_MIN_WORK ? false : M < 5 && N <= 8 ? 'one' : true;
        const name = `gemm ${M}x${N}x${K} transA=${transA} transB=${transB}`;
        cases.push({
          name,
          split,
          run: () => {
            const c = new Float32Array(M * N);
            wasmGemm(k, transA, transB, M, N, K, 1, a, 0, b, 0, 0, c, 0);
            // alpha, beta and offsets into the arrays.
            const cb = c0.slice();
            wasmGemm(k, transA, transB, M, N, K, -0.75, a, 3, b, 5, 0.5, cb, 2);
            return [c, cb];
          },
        });
      }
    }
  }
  // Batches: split over the products (an uneven rest of large ones split one by one), or below
  // the threshold altogether.
  for (const [batch, M, N, K] of [[3, 170, 160, 160], [5, 131, 77, 257], [9, 40, 50, 1100], [2, 64, 64, 300]]) {
    for (const transB of [false, true]) {
      const a = randomF32(rng, batch * M * K);
      const b = randomF32(rng, batch * K * N);
      const split = batch * M * N * K >= GEMM_THREAD_MIN_WORK;
      cases.push({ name: `batched gemm ${batch} x ${M}x${N}x${K} transB=${transB}`, split, run: () => [wasmBatchedGemm(k, batch, false, transB, M, N, K, a, b)] });
    }
  }
  await checkCases(cases);
});

function conv(n: number, c: number, hw: number, o: number, kk: number, opts: { stride?: number; pad?: number; groups?: number; dilation?: number } = {}): Conv2dParams {
  const groups = opts.groups ?? 1;
  const s = opts.stride ?? 1;
  const pad = opts.pad ?? (kk >> 1);
  const d = opts.dilation ?? 1;
  return { inShape: [n, c, hw, hw], weightShape: [o, c / groups, kk, kk], stride: [s, s], padding: [pad, pad], dilation: [d, d], groups };
}

test('threaded conv2d forward / backward-input / backward-weight equal the single-threaded results bit for bit', async () => {
  const k = kernels();
  const rng = new Rng(11);
  const cases: Case[] = [];
  const add = (name: string, p: Conv2dParams, bias: boolean): void => {
    const [n, c, h, w] = p.inShape;
    const [o, cg, kh, kw] = p.weightShape;
    const x = randomF32(rng, n * c * h * w);
    const wt = randomF32(rng, o * cg * kh * kw);
    const b = bias ? randomF32(rng, o) : null;
    const y = wasmConv2dForward(k, x, wt, b, p);
    const dy = randomF32(rng, y.length);
    const work = y.length * cg * kh * kw; // multiply-adds of each pass
    cases.push({
      name: `${name} ${JSON.stringify(p)}`,
      split: work >= GEMM_THREAD_MIN_WORK,
      run: () => [wasmConv2dForward(k, x, wt, b, p), wasmConv2dBackwardInput(k, dy, wt, p), wasmConv2dBackwardWeight(k, x, dy, p)],
    });
  };
  // One image above the threshold: batch 1 (and the images of 2 or 5 that do not share out
  // evenly over the threads) go one by one: im2col / col2im by channels, the GEMM by columns.
  for (const n of [1, 2, 5]) {
    add('3x3', conv(n, 16, 32, 32, 3), true);
    add('3x3 groups 2', conv(n, 32, 32, 32, 3, { groups: 2 }), true);
    add('3x3 stride 2', conv(n, 16, 64, 32, 3, { stride: 2 }), false);
    add('1x1', conv(n, 80, 32, 80, 1), true);
  }
  add('3x3 batch 16 (runs of several images per task)', conv(16, 8, 16, 16, 3), true);
  add('1x1 stride 2', conv(4, 32, 48, 64, 1, { stride: 2, pad: 0 }), false);
  add('3x3 1 input channel (dW split by rows)', conv(5, 1, 64, 32, 3), true);
  add('3x3 deep, 7x7 (GEMMs split by rows)', conv(1, 128, 7, 128, 3), false);
  add('5x5 dilation 2 groups 4', conv(3, 16, 30, 32, 5, { groups: 4, dilation: 2, pad: 4 }), true);
  add('3x3 small (below the threshold)', conv(2, 4, 12, 8, 3), false);
  await checkCases(cases);
});

test('a training step of the canonical CNN gives the same loss and gradients with 1 and 2 threads', async () => {
  assert.equal(cpuKernels(), 'wasm');
  const step = (): { loss: number; grads: Float32Array[] } => {
    manualSeed(3);
    const model = createModel('canonical-cnn', { inChannels: 1, numClasses: 10, widths: [8, 16] });
    const x = randn([16, 1, 28, 28]);
    const labels = tensor(Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 10), [16], 'int32');
    const loss: Tensor = ops.crossEntropy(model.forward(x), labels);
    loss.backward();
    return { loss: loss.itemSync(), grads: model.parameters().map((p) => Float32Array.from(p.grad!.dataSync() as Float32Array)) };
  };
  try {
    setCpuKernels('wasm');
    await setNumThreads(1);
    const one = step();
    await setNumThreads(2);
    assert.equal(numThreads(), 2);
    let two = one;
    const tasks = countTasks(() => {
      two = step();
    });
    assert.ok(tasks > 0, 'the convolutions of the step should have been split over the pool');
    assert.ok(Math.abs(two.loss - one.loss) <= 1e-6 * Math.abs(one.loss), `loss ${two.loss} with 2 threads, ${one.loss} with 1`);
    assert.equal(two.grads.length, one.grads.length);
    one.grads.forEach((g1, i) => {
      const g2 = two.grads[i];
      let scale = 0;
      for (const v of g1) scale = Math.max(scale, Math.abs(v));
      for (let j = 0; j < g1.length; j++) {
        if (!(Math.abs(g2[j] - g1[j]) <= 1e-5 * scale)) assert.fail(`parameter ${i} gradient [${j}]: ${g2[j]} with 2 threads, ${g1[j]} with 1`);
      }
    });
  } finally {
    await setNumThreads(1);
  }
});

test('a new pool starts from a clean control block, even if a terminated worker left it dirty', async () => {
  const k = kernels();
  const ctrl = new Int32Array(k.memory.buffer, CONTROL_OFFSET, 16);
  const ACTIVE = 4; // thread-pool.ts: workers inside the task loop
  try {
    await setNumThreads(2);
    // As if a worker had been terminated between entering and leaving the task loop: the next
    // pool's first run() would wait for it forever.
    Atomics.store(ctrl, ACTIVE, 1);
    await setNumThreads(2);
    assert.equal(Atomics.load(ctrl, ACTIVE), 0);
    const rng = new Rng(9);
    const [M, N, K] = [200, 200, 200];
    const a = randomF32(rng, M * K);
    const b = randomF32(rng, K * N);
    const c = new Float32Array(M * N);
    assert.ok(countTasks(() => wasmGemm(k, false, false, M, N, K, 1, a, 0, b, 0, 0, c, 0)) > 1);
  } finally {
    await setNumThreads(1);
  }
});
