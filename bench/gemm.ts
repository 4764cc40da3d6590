/**
 * float32 GEMM and convolution speed of fovea's WebAssembly kernels, on one or more threads.
 *
 * GEMM (C = A @ B, square n^3, 2n^3 flops): the WebAssembly kernel on operands already in its
 * memory (`runGemm`: `gemm_f32` on one thread, split over the thread pool on several), the same
 * through the public wrapper (`wasmGemm`: copies A and B in and C out every call), the
 * TypeScript reference `gemm` (always one thread), and PyTorch torch.mm (spawns
 * bench/torch_mm.py with /usr/bin/python3, the same thread count) with Debian's reference BLAS
 * and, when available, with OpenBLAS preloaded (bench/peers/openblas.sh downloads it into
 * .bench-cache/). Median of several runs per cell; prints a markdown table with ratios.
 *
 * --threads takes a list (e.g. 1,2): every fovea cell is measured at each count in turn
 * (setNumThreads between them, size by size, so that a change in the machine's load hits all
 * counts alike), and the torch peers run at each count too.
 *
 * Conv layers (--conv): forward, backward-input and backward-weight GFLOP/s of the WebAssembly
 * path (im2col + GEMM, copies included, as the ops run it) against the reference kernels, for
 * ResNet-like shapes at batch 1 (ImageNet sizes) and 64 (CIFAR sizes), at each thread count.
 *
 *   npx tsx bench/gemm.ts [--sizes 256,512,1024,2048] [--threads 1[,2,...]] [--no-torch] [--no-openblas] [--conv] [--no-gemm]
 *                         [--no-reference] [--max-ms 1500] [--reference-max-n 2048] [--stat median|best] [--python /usr/bin/python3]
 *
 * --stat best reports the fastest run instead of the median (for a shared, noisy machine).
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gemm } from '../src/backends/cpu/kernels/matmul.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputShape } from '../src/backends/cpu/kernels/conv2d.js';
import type { Conv2dParams } from '../src/backends/cpu/kernels/types.js';
import { wasmKernels, wasmLoadError } from '../src/backends/cpu/wasm/module.js';
import { runGemm, wasmGemm } from '../src/backends/cpu/wasm/gemm.js';
import { setNumThreads, threadPool } from '../src/backends/cpu/wasm/threads.js';
import { wasmConv2dBackwardInput, wasmConv2dBackwardWeight, wasmConv2dForward } from '../src/backends/cpu/wasm/conv.js';
import { Rng } from '../src/tensor/rng.js';
import { giveArray } from '../src/backends/cpu/array-pool.js';

process.chdir(fileURLToPath(new URL('..', import.meta.url)));

const { values: opt } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512,1024,2048' },
    'no-torch': { type: 'boolean', default: false },
    'no-openblas': { type: 'boolean', default: false },
    'no-gemm': { type: 'boolean', default: false },
    'no-reference': { type: 'boolean', default: false },
    threads: { type: 'string', default: '1' },
    conv: { type: 'boolean', default: false },
    'max-ms': { type: 'string', default: '1500' },
    'reference-max-n': { type: 'string', default: '2048' },
    python: { type: 'string', default: '/usr/bin/python3' },
    stat: { type: 'string', default: 'median' },
  },
});
const maxMs = Number(opt['max-ms']);
if (opt.stat !== 'median' && opt.stat !== 'best') throw new Error(`--stat must be 'median' or 'best', got '${opt.stat}'`);
const useBest = opt.stat === 'best';
const threadCounts = opt.threads!.split(',').map(Number);
for (const t of threadCounts) if (!Number.isInteger(t) || t < 1) throw new Error(`--threads: expected positive integers, got '${opt.threads}'`);

/** Switches fovea to `t` threads and checks that every worker joined. */
async function useThreads(t: number): Promise<void> {
  await setNumThreads(t);
  const joined = threadPool()?.threads ?? 1;
  if (joined !== t) throw new Error(`setNumThreads(${t}): only ${joined} threads joined`);
}

const k = wasmKernels();
if (!k) throw new Error(`WebAssembly kernels unavailable: ${wasmLoadError()?.message}`);

/**
 * Median (or with --stat best, the fastest) seconds of `fn`: one warm-up, then up to `reps` runs
 * within --max-ms (at least 3, or 1 if a run exceeds half the budget).
 */
function median(fn: () => void, reps = 9): number {
  const t0 = performance.now();
  fn();
  const first = performance.now() - t0;
  const times: number[] = [];
  const start = performance.now();
  const minReps = first > maxMs / 2 ? 1 : 3;
  while (times.length < reps && (times.length < minReps || performance.now() - start < maxMs)) {
    const t = performance.now();
    fn();
    times.push((performance.now() - t) / 1000);
  }
  times.sort((a, b) => a - b);
  return useBest ? times[0] : times[Math.floor(times.length / 2)];
}

function randomF32(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

const gf = (flops: number, s: number | null | undefined): string => (s ? (flops / s / 1e9).toFixed(1) : 'n/a');
const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`${cpu}, ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0].toFixed(2)}, ${new Date().toISOString().slice(0, 10)}; threads: ${threadCounts.join(', ')}`);

if (!opt['no-gemm']) {
  const sizes = opt.sizes!.split(',').map(Number);
  const rng = new Rng(1);
  const rows: { n: number; kernel: number[]; wrapped: number[]; reference: number | null }[] = [];
  for (const n of sizes) {
    const a = randomF32(rng, n * n);
    const b = randomF32(rng, n * n);
    const c = new Float32Array(n * n);
    // Kernel only: operands placed in the WebAssembly memory once. runGemm takes its scratch from
    // the arena; resetting it and allocating the operands again in the same order gives the
    // same addresses (a bump allocator), so the operands stay put and the arena does not grow.
    const arena = k.arena;
    const place = (): [number, number, number] => {
      arena.reset();
      return [arena.alloc(n * n * 4), arena.alloc(n * n * 4), arena.alloc(n * n * 4)];
    };
    const [pa, pb] = place();
    arena.f32(pa, n * n).set(a);
    arena.f32(pb, n * n).set(b);
    const kernel: number[] = [];
    const wrapped: number[] = [];
    for (const t of threadCounts) {
      await useThreads(t);
      kernel.push(median(() => {
        const [xa, xb, xc] = place();
        runGemm(k, { batch: 1, transA: false, transB: false, M: n, N: n, K: n, alpha: 1, a: xa, lda: n, b: xb, ldb: n, beta: 0, c: xc, ldc: n, sa: 0, sb: 0, sc: 0, bias: 0 });
      }));
      wrapped.push(median(() => wasmGemm(k, false, false, n, n, n, 1, a, 0, b, 0, 0, c, 0)));
    }
    const reference = !opt['no-reference'] && n <= Number(opt['reference-max-n']) ? median(() => gemm(false, false, n, n, n, 1, a, 0, b, 0, 0, c, 0), 5) : null;
    rows.push({ n, kernel, wrapped, reference });
  }

  interface TorchRun { torch: string; threads: number; blas: string; seconds: Record<string, number> }
  const torchRuns: TorchRun[] = [];
  if (!opt['no-torch']) {
    const base: NodeJS.ProcessEnv[] = [{ ...process.env }];
    if (!opt['no-openblas']) {
      const lib = spawnSync('sh', ['bench/peers/openblas.sh'], { encoding: 'utf8' });
      if (lib.status === 0 && lib.stdout.trim()) base.push({ ...process.env, LD_LIBRARY_PATH: lib.stdout.trim() });
      else process.stderr.write(`OpenBLAS unavailable (bench/peers/openblas.sh failed): ${lib.stderr.slice(-300)}\n`);
    }
    for (const env0 of base) {
      for (const t of threadCounts) {
        const env = { ...env0, OMP_NUM_THREADS: String(t), OPENBLAS_NUM_THREADS: String(t) };
        const py = spawnSync(opt.python!, ['bench/torch_mm.py', '--sizes', sizes.join(','), '--threads', String(t), '--max-ms', String(maxMs), '--stat', opt.stat!], { encoding: 'utf8', env });
        if (py.status === 0) torchRuns.push(JSON.parse(py.stdout.trim().split('\n').pop()!) as TorchRun);
        else process.stderr.write(`PyTorch peer failed: ${py.stderr.slice(-500)}\n`);
      }
    }
  }

  const blasName = (r: TorchRun): string => (r.blas.startsWith('OpenBLAS') ? 'OpenBLAS' : 'ref BLAS');
  const torchLabel = (r: TorchRun): string => `torch ${r.torch} mm, ${blasName(r)}, ${r.threads} thr`;
  console.log(`\nGEMM C = A @ B, float32, square n, GFLOP/s (${opt.stat} of up to 9 runs); thr = threads\n`);
  const head = [
    'n',
    ...threadCounts.map((t) => `fovea wasm kernel, ${t} thr`),
    ...threadCounts.map((t) => `fovea wasm with copies, ${t} thr`),
    ...(threadCounts.length > 1 ? threadCounts.slice(1).map((t) => `kernel speedup ${t} thr / ${threadCounts[0]} thr`) : []),
    'fovea TS reference, 1 thr',
    ...torchRuns.map(torchLabel),
    ...torchRuns.map((r) => `wasm / ${blasName(r)}, ${r.threads} thr`),
  ];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) {
    const flops = 2 * r.n ** 3;
    const kernelAt = (t: number): number => r.kernel[threadCounts.indexOf(t)];
    const cells = [
      String(r.n),
      ...r.kernel.map((s) => gf(flops, s)),
      ...r.wrapped.map((s) => gf(flops, s)),
      ...(threadCounts.length > 1 ? r.kernel.slice(1).map((s) => `${(r.kernel[0] / s).toFixed(2)}x`) : []),
      gf(flops, r.reference),
      ...torchRuns.map((run) => gf(flops, run.seconds[String(r.n)])),
      ...torchRuns.map((run) => {
        const s = run.seconds[String(r.n)];
        const mine = threadCounts.includes(run.threads) ? kernelAt(run.threads) : undefined;
        return s && mine ? `${(s / mine).toFixed(2)}x` : 'n/a';
      }),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  for (const r of torchRuns) console.log(`\n${torchLabel(r)}: BLAS loaded: ${r.blas}`);
}

if (opt.conv) {
  interface Layer { name: string; p: Conv2dParams }
  const conv = (name: string, n: number, c: number, hw: number, o: number, kk: number, stride: number, pad: number): Layer => ({
    name,
    p: { inShape: [n, c, hw, hw], weightShape: [o, c, kk, kk], stride: [stride, stride], padding: [pad, pad], dilation: [1, 1], groups: 1 },
  });
  const layers: Layer[] = [
    conv('stem 7x7/2 3->64 @224', 1, 3, 224, 64, 7, 2, 3),
    conv('3x3 64->64 @56', 1, 64, 56, 64, 3, 1, 1),
    conv('1x1 256->64 @56', 1, 256, 56, 64, 1, 1, 0),
    conv('3x3/2 128->256 @28', 1, 128, 28, 256, 3, 2, 1),
    conv('3x3 256->256 @14', 1, 256, 14, 256, 3, 1, 1),
    conv('3x3 512->512 @7', 1, 512, 7, 512, 3, 1, 1),
    conv('3x3 16->16 @32 (CIFAR)', 64, 16, 32, 16, 3, 1, 1),
    conv('3x3/2 16->32 @32 (CIFAR)', 64, 16, 32, 32, 3, 2, 1),
    conv('3x3 32->32 @16 (CIFAR)', 64, 32, 16, 32, 3, 1, 1),
    conv('3x3 64->64 @8 (CIFAR)', 64, 64, 8, 64, 3, 1, 1),
    conv('1x1 64->256 @8 (CIFAR)', 64, 64, 8, 256, 1, 1, 0),
    conv('3x3 128->128 @28', 64, 128, 28, 128, 3, 1, 1),
  ];
  const rng = new Rng(2);
  console.log(`\nconv2d, float32, GFLOP/s (${opt.stat}): WebAssembly (copies included) at ${threadCounts.join(' / ')} threads / TS reference (1 thread)\n`);
  console.log('| layer | batch | GFLOP per pass | forward | backward input | backward weight |');
  console.log('|---|---|---|---|---|---|');
  for (const { name, p } of layers) {
    const [n, c, h, w] = p.inShape;
    const [o, cg, kh, kw] = p.weightShape;
    const [, , oh, ow] = conv2dOutputShape(p);
    const flops = 2 * n * o * oh * ow * cg * kh * kw;
    const x = randomF32(rng, n * c * h * w);
    const wt = randomF32(rng, o * cg * kh * kw);
    const bias = randomF32(rng, o);
    const dy = randomF32(rng, n * o * oh * ow);
    // The reference kernels take seconds on the big batch-64 layers: time them only up to ~2 GFLOP.
    const withRef = flops <= 2e9;
    // Results go back to the CPU array pool, as freed tensors do in the ops (a fresh large
    // array costs a page fault per 4 KiB on first touch, more than some of these kernels).
    const pooled = (fn: () => Float32Array | Float64Array) => (): void => giveArray(fn());
    const cell = async (wasm: () => Float32Array, ref: () => Float32Array | Float64Array): Promise<string> => {
      const wasmCells: string[] = [];
      for (const t of threadCounts) {
        await useThreads(t);
        wasmCells.push(gf(flops, median(pooled(wasm), 5)));
      }
      return `${wasmCells.join(' / ')} / ${withRef && !opt['no-reference'] ? gf(flops, median(pooled(ref), 3)) : '-'}`;
    };
    const fwd = await cell(() => wasmConv2dForward(k, x, wt, bias, p), () => conv2dForward(x, wt, bias, p));
    const bwdIn = await cell(() => wasmConv2dBackwardInput(k, dy, wt, p), () => conv2dBackwardInput(dy, wt, p));
    const bwdW = await cell(() => wasmConv2dBackwardWeight(k, x, dy, p), () => conv2dBackwardWeight(x, dy, p));
    console.log(`| ${name} | ${n} | ${(flops / 1e9).toFixed(3)} | ${fwd} | ${bwdIn} | ${bwdW} |`);
  }
}
