/**
 * Single-threaded float32 GEMM and convolution speed of fovea's WebAssembly kernels.
 *
 * GEMM (C = A @ B, square n^3, 2n^3 flops): the WebAssembly kernel on operands already in its
 * memory (`gemm_f32`), the same through the public wrapper (`wasmGemm`: copies A and B in and C
 * out every call), the TypeScript reference `gemm`, and PyTorch torch.mm (spawns
 * bench/torch_mm.py with /usr/bin/python3, one thread) with Debian's reference BLAS and, when
 * available, with OpenBLAS preloaded (bench/peers/openblas.sh downloads it into .bench-cache/).
 * Median of several runs per cell; prints a markdown table with ratios.
 *
 * Conv layers (--conv): forward, backward-input and backward-weight GFLOP/s of the WebAssembly
 * path (im2col + GEMM, copies included, as the ops run it) against the reference kernels, for
 * ResNet-like shapes at batch 1 (ImageNet sizes) and 64 (CIFAR sizes).
 *
 *   npx tsx bench/gemm.ts [--sizes 256,512,1024,2048] [--no-torch] [--no-openblas] [--conv] [--no-gemm]
 *                         [--max-ms 1500] [--reference-max-n 2048] [--stat median|best] [--python /usr/bin/python3]
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
import { gemmExports, u32, wasmGemm } from '../src/backends/cpu/wasm/gemm.js';
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
console.log(`${cpu}, ${cpus().length} cores, Node ${process.version}, load average ${loadavg()[0].toFixed(2)}, ${new Date().toISOString().slice(0, 10)}; one thread per runner`);

if (!opt['no-gemm']) {
  const sizes = opt.sizes!.split(',').map(Number);
  const rng = new Rng(1);
  const e = gemmExports(k);
  const rows: { n: number; kernel: number; wrapped: number; reference: number | null }[] = [];
  for (const n of sizes) {
    const a = randomF32(rng, n * n);
    const b = randomF32(rng, n * n);
    const c = new Float32Array(n * n);
    // Kernel only: operands placed in the WebAssembly memory once.
    const arena = k.arena;
    arena.reset();
    const pa = arena.copyIn(a);
    const pb = arena.copyIn(b);
    const pc = arena.alloc(n * n * 4);
    const scratch = arena.alloc(u32(e.gemm_scratch_bytes(n, n, n)));
    const kernel = median(() => e.gemm_f32(0, 0, n, n, n, 1, pa, n, pb, n, 0, pc, n, 0, scratch));
    const wrapped = median(() => wasmGemm(k, false, false, n, n, n, 1, a, 0, b, 0, 0, c, 0));
    const reference = n <= Number(opt['reference-max-n']) ? median(() => gemm(false, false, n, n, n, 1, a, 0, b, 0, 0, c, 0), 5) : null;
    rows.push({ n, kernel, wrapped, reference });
  }

  interface TorchRun { torch: string; threads: number; blas: string; seconds: Record<string, number> }
  const torchRuns: TorchRun[] = [];
  if (!opt['no-torch']) {
    const envs: NodeJS.ProcessEnv[] = [{ ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1' }];
    if (!opt['no-openblas']) {
      const lib = spawnSync('sh', ['bench/peers/openblas.sh'], { encoding: 'utf8' });
      if (lib.status === 0 && lib.stdout.trim()) envs.push({ ...envs[0], LD_LIBRARY_PATH: lib.stdout.trim() });
      else process.stderr.write(`OpenBLAS unavailable (bench/peers/openblas.sh failed): ${lib.stderr.slice(-300)}\n`);
    }
    for (const env of envs) {
      const py = spawnSync(opt.python!, ['bench/torch_mm.py', '--sizes', sizes.join(','), '--threads', '1', '--max-ms', String(maxMs), '--stat', opt.stat!], { encoding: 'utf8', env });
      if (py.status === 0) torchRuns.push(JSON.parse(py.stdout.trim().split('\n').pop()!) as TorchRun);
      else process.stderr.write(`PyTorch peer failed: ${py.stderr.slice(-500)}\n`);
    }
  }

  const torchLabel = (r: TorchRun): string => `torch ${r.torch} mm, ${r.blas.startsWith('OpenBLAS') ? 'OpenBLAS' : 'reference BLAS'}`;
  console.log(`\nGEMM C = A @ B, float32, square n, single thread, GFLOP/s (${opt.stat} of up to 9 runs)\n`);
  const head = ['n', 'fovea wasm (kernel)', 'fovea wasm (with copies)', 'fovea TS reference', ...torchRuns.map(torchLabel), 'wasm / TS ref', ...torchRuns.map((r) => `wasm / ${r.blas.startsWith('OpenBLAS') ? 'OpenBLAS' : 'ref BLAS'}`)];
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const r of rows) {
    const flops = 2 * r.n ** 3;
    const t = torchRuns.map((run) => run.seconds[String(r.n)]);
    const cells = [
      String(r.n),
      gf(flops, r.kernel),
      gf(flops, r.wrapped),
      gf(flops, r.reference),
      ...t.map((s) => gf(flops, s)),
      r.reference ? `${(r.reference / r.kernel).toFixed(1)}x` : 'n/a',
      ...t.map((s) => (s ? `${(s / r.kernel).toFixed(2)}x` : 'n/a')),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  for (const r of torchRuns) console.log(`\n${torchLabel(r)}: ${r.threads} thread(s), BLAS loaded: ${r.blas}`);
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
  console.log(`\nconv2d, float32, single thread, GFLOP/s (${opt.stat}): WebAssembly (copies included) / TS reference\n`);
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
    const cell = (wasm: () => Float32Array, ref: () => Float32Array | Float64Array): string =>
      `${gf(flops, median(pooled(wasm), 5))} / ${withRef ? gf(flops, median(pooled(ref), 3)) : '-'}`;
    const fwd = cell(() => wasmConv2dForward(k, x, wt, bias, p), () => conv2dForward(x, wt, bias, p));
    const bwdIn = cell(() => wasmConv2dBackwardInput(k, dy, wt, p), () => conv2dBackwardInput(dy, wt, p));
    const bwdW = cell(() => wasmConv2dBackwardWeight(k, x, dy, p), () => conv2dBackwardWeight(x, dy, p));
    console.log(`| ${name} | ${n} | ${(flops / 1e9).toFixed(3)} | ${fwd} | ${bwdIn} | ${bwdW} |`);
  }
}
