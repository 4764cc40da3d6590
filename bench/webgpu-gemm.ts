/**
 * fovea's tiled GEMM on WebGPU: C = A @ B at n x n x n (default 4096) with float32 operands and
 * with float16 operands (`tensor.cast('float16')`: float16 storage, float32 sums and result, the
 * operands autocast gives the products), in GFLOP/s and as a fraction of the GPU's fp32 peak
 * (`--peak-tflops`; the H100 SXM's fp32 non-tensor peak is 67), next to torch.mm on the same GPU
 * (bench/gpu/torch_gemm.py: fp32 with TF32 off, TF32, fp16, bf16). Made for a GPU host (see
 * bench/gpu/run-h100.sh); on lavapipe it runs at small n (--n 256) to check that it works.
 *
 *   npx tsx bench/webgpu-gemm.ts [--n 4096] [--dtypes float32,float16] [--reps 30] [--rounds 5]
 *                                [--warmup-ms 500] [--max-seconds 10] [--peak-tflops 67] [--check 64]
 *                                [--json FILE] [--python python3] [--no-torch]
 *
 * Correctness first: before anything is timed, the first product of each dtype is read back and
 * --check entries (the corners, the centre and random ones; every entry when n <= 256) are
 * compared with a float64 dot product on the CPU over the operands the GPU holds (the float16
 * ones read back after the cast): |c - ref| <= 1e-4 * sum_k |a_ik b_kj| each. These outputs are
 * fresh buffers (WebGPU zero-fills new buffers; the pool cannot hand back an earlier product
 * while they live), so a kernel that writes nothing fails. A dtype that fails is not timed and
 * the script exits 1.
 *
 * Timing, per dtype: one product (shader compilation), then groups of up to 8 products, each
 * ended by a 1-value readback, for --warmup-ms (the H100 needs 250-350 ms of work to reach its
 * boost clock); then
 *   - GPU time: one group of --reps products under profileWebGPU (timestamp queries around each
 *     dispatch), the matmul kernels' total time / their count; where the adapter has
 *     'timestamp-query';
 *   - wall time: --rounds groups of --reps products, each group ended by a readback of one value,
 *     the median group's time / reps (includes submission and the final readback).
 * Where a product is slow, fewer reps are used so that each dtype's timing stays within about
 * --max-seconds (the warm-up's mean time per product sets the count; at least 3).
 * GFLOP/s = 2 n^3 / time.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { initWebGPU, matmul, ops, profileWebGPU, setBackend, tensor, type Tensor } from '../src/index.js';
import { loadBundledWasm } from './gpu/bundled-wasm.js';
import { message, timestampNote, writeJson } from './gpu/common.js';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '4096' },
    dtypes: { type: 'string', default: 'float32,float16' },
    reps: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '5' },
    'warmup-ms': { type: 'string', default: '500' },
    'max-seconds': { type: 'string', default: '10' },
    'peak-tflops': { type: 'string' },
    check: { type: 'string', default: '64' },
    json: { type: 'string' },
    python: { type: 'string', default: 'python3' },
    'no-torch': { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const reps = Number(values.reps);
const rounds = Number(values.rounds);
const warmupMs = Number(values['warmup-ms']);
const peak = values['peak-tflops'] ? Number(values['peak-tflops']) : null;
const dtypes = values.dtypes!.split(',') as ('float32' | 'float16')[];
for (const d of dtypes) if (d !== 'float32' && d !== 'float16') throw new Error(`--dtypes: float32 or float16, got '${d}'`);
const flop = 2 * n ** 3;

process.stderr.write(`${await loadBundledWasm()}\n`);
const info = await initWebGPU();
setBackend('webgpu');
process.stderr.write(`adapter: ${JSON.stringify(info)}\n`);

/** Deterministic uniform values in [-1, 1) (never zeros: they hide unwritten outputs). */
function uniform(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    out[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** The entries to check: every one when n <= 256, else corners, centre and random ones. */
function checkEntries(count: number): [number, number][] {
  if (n <= 256) return Array.from({ length: n * n }, (_, k) => [Math.floor(k / n), k % n]);
  const picks: [number, number][] = [[0, 0], [0, n - 1], [n - 1, 0], [n - 1, n - 1], [n >> 1, n >> 1]];
  const r = uniform(2 * count, 7);
  for (let k = 0; picks.length < count; k++) picks.push([Math.floor(((r[2 * k] + 1) / 2) * n), Math.floor(((r[2 * k + 1] + 1) / 2) * n)]);
  return picks;
}

interface Check {
  entries: number;
  maxRelError: number;
  pass: boolean;
}

function check(c: Float32Array, a: Float32Array, b: Float32Array): Check {
  let worst = 0;
  let pass = true;
  const entries = checkEntries(Number(values.check));
  for (const [i, j] of entries) {
    let ref = 0;
    let mag = 0;
    for (let k = 0; k < n; k++) {
      const p = a[i * n + k] * b[k * n + j];
      ref += p;
      mag += Math.abs(p);
    }
    const err = Math.abs(c[i * n + j] - ref) / (mag || 1);
    if (!(err <= 1e-4)) pass = false; // NaN fails too
    worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
  }
  return { entries: entries.length, maxRelError: worst, pass };
}

const hostA = uniform(n * n, 1);
const hostB = uniform(n * n, 2);
const a32 = tensor(hostA, [n, n]);
const b32 = tensor(hostB, [n, n]);

interface Row {
  dtype: string;
  check: Check;
  reps: number;
  gpuMsPerProduct: number | null;
  gpuGflops: number | null;
  kernels: string[];
  wallMsPerProduct: number | null;
  wallGflops: number | null;
  fractionOfPeak: number | null;
  error?: string;
}
const rows: Row[] = [];
let failed = false;

// Correctness of every dtype first, on fresh output buffers kept alive until all are checked.
const operands = new Map<string, [Tensor, Tensor]>();
const kept: Tensor[] = [];
for (const dtype of dtypes) {
  try {
    const [a, b] = dtype === 'float16' ? [a32.cast('float16'), b32.cast('float16')] : [a32, b32];
    operands.set(dtype, [a, b]);
    const c = matmul(a, b);
    kept.push(c);
    const [ha, hb] = dtype === 'float16' ? [(await a.data()) as Float32Array, (await b.data()) as Float32Array] : [hostA, hostB];
    const r = check((await c.data()) as Float32Array, ha, hb);
    process.stderr.write(`${dtype}: ${r.entries} entries checked against float64, max |c - ref| / sum|a b| = ${r.maxRelError.toExponential(2)} ${r.pass ? 'PASS' : 'FAIL'}\n`);
    rows.push({ dtype, check: r, reps, gpuMsPerProduct: null, gpuGflops: null, kernels: [], wallMsPerProduct: null, wallGflops: null, fractionOfPeak: null, ...(r.pass ? {} : { error: 'wrong result: not timed' }) });
    if (!r.pass) failed = true;
  } catch (e) {
    failed = true;
    rows.push({ dtype, check: { entries: 0, maxRelError: NaN, pass: false }, reps, gpuMsPerProduct: null, gpuGflops: null, kernels: [], wallMsPerProduct: null, wallGflops: null, fractionOfPeak: null, error: message(e) });
    process.stderr.write(`${dtype}: ${message(e)}\n`);
  }
}
for (const c of kept) c.dispose();

/** `count` products back to back, then a readback of one value of the last. */
async function group(a: Tensor, b: Tensor, count: number): Promise<void> {
  let c: Tensor | null = null;
  for (let i = 0; i < count; i++) {
    c?.dispose();
    c = matmul(a, b);
  }
  const one = ops.slice(c!, [0, 0], [1, 1]);
  await one.data();
  one.dispose();
  c!.dispose();
}

for (const row of rows) {
  if (!row.check.pass) continue;
  const [a, b] = operands.get(row.dtype)!;
  try {
    await group(a, b, 1); // shader compilation
    const w0 = performance.now();
    let warm = 0;
    do {
      const count = Math.max(1, Math.min(reps, 8));
      await group(a, b, count);
      warm += count;
    } while (performance.now() - w0 < warmupMs);
    const perProductMs = (performance.now() - w0) / warm;
    const count = (row.reps = Math.max(3, Math.min(reps, Math.floor((1000 * Number(values['max-seconds'])) / (rounds + 1) / perProductMs))));
    if (info.features.timestampQuery) {
      const profile = await profileWebGPU(() => group(a, b, count));
      // The products' kernels only (the group's 1-value readback adds a slice).
      const products = profile.kernels.filter((k) => k.kernel.startsWith('matmul'));
      const calls = products.reduce((t, k) => t + k.calls, 0);
      row.kernels = profile.kernels.map((k) => `${k.kernel} x${k.calls} ${k.ms.toFixed(2)} ms`);
      row.gpuMsPerProduct = products.reduce((t, k) => t + k.ms, 0) / calls;
      row.gpuGflops = flop / (row.gpuMsPerProduct / 1000) / 1e9;
    }
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t = performance.now();
      await group(a, b, count);
      times.push((performance.now() - t) / count);
    }
    times.sort((x, y) => x - y);
    row.wallMsPerProduct = times[Math.floor(times.length / 2)];
    row.wallGflops = flop / (row.wallMsPerProduct / 1000) / 1e9;
    const best = row.gpuGflops ?? row.wallGflops;
    row.fractionOfPeak = peak ? best / (peak * 1000) : null;
  } catch (e) {
    failed = true;
    row.error = message(e);
  }
}

interface TorchResult {
  device: string;
  torch: string;
  n: number;
  rows: { mode: string; ms: number; gflops: number }[];
}
let torchResult: TorchResult | null = null;
let torchError = '';
if (!values['no-torch']) {
  const py = spawnSync(values.python!, ['bench/gpu/torch_gemm.py', '--n', String(n), '--warmup-ms', String(warmupMs)], { encoding: 'utf8' });
  const line = py.stdout?.trim().split('\n').pop();
  if (py.status === 0 && line) torchResult = JSON.parse(line) as TorchResult;
  else {
    torchError = (py.stderr || String(py.error)).trim();
    process.stderr.write(`PyTorch peer failed: ${torchError.slice(-600)}\n`);
  }
}

const fmt = (v: number | null, digits = 1): string => (v === null ? '-' : v.toFixed(digits));
const pct = (gflops: number | null): string => (peak && gflops !== null ? `${((100 * gflops) / (peak * 1000)).toFixed(1)} %` : '-');
console.log(`\nGEMM ${n}x${n}x${n} (${(flop / 1e9).toPrecision(4)} GFLOP per product), ${info.adapter}${peak ? `; fp32 peak ${peak} TFLOP/s` : ''}\n`);
console.log(`| runner | operands | GPU ms/product | GFLOP/s (GPU time) | GFLOP/s (wall) | of fp32 peak | check (max rel. error) |`);
console.log('|---|---|--:|--:|--:|--:|---|');
for (const r of rows) {
  const checkCell = r.check.entries ? `${r.check.pass ? 'pass' : 'FAIL'} (${r.check.entries} entries, ${r.check.maxRelError.toExponential(1)})` : 'not run';
  console.log(`| fovea webgpu | ${r.dtype === 'float16' ? 'float16 (float32 sums)' : 'float32'} | ${fmt(r.gpuMsPerProduct, 3)} | ${fmt(r.gpuGflops)} | ${fmt(r.wallGflops)} | ${pct(r.gpuGflops ?? r.wallGflops)} | ${checkCell}${r.error ? `; ${r.error}` : ''} |`);
}
for (const t of torchResult?.rows ?? []) {
  console.log(`| torch ${torchResult!.torch} ${torchResult!.device} | ${t.mode} | ${t.ms.toFixed(3)} | ${t.gflops.toFixed(1)} | - | ${pct(t.gflops)} | - |`);
}
if (torchError) console.log(`\nPyTorch peer failed: ${torchError.split('\n').pop()}`);
console.log(`\nfovea: GPU time = timestamp queries around each matmul dispatch, mean of one group; wall = median of ${rounds} groups of products, each ended by a 1-value readback (products per group: ${rows.map((r) => `${r.dtype} ${r.reps}`).join(', ')}); warm-up ${warmupMs} ms of products first; timestamps ${timestampNote()}. torch: CUDA events, median of ${reps}, after a warm-up by time.`);
for (const r of rows) if (r.kernels.length) console.log(`fovea ${r.dtype} kernels: ${r.kernels.join(', ')}`);

writeJson(values.json, { bench: 'webgpu-gemm', date: new Date().toISOString(), adapter: info.adapter, features: info.features, n, reps, rounds, warmupMs, peakTflops: peak, timestamps: timestampNote(), fovea: rows, torch: torchResult, torchError: torchError || undefined });
process.exit(failed ? 1 : 0);
