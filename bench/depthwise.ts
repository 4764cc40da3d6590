/**
 * Depthwise 3x3 convolution throughput (GFLOP/s, 2 * outC * outH * outW * 9 per image) on the
 * MobileNetV2 depthwise shapes at batch 1: the WebAssembly SIMD kernels, the TypeScript reference
 * kernels, and PyTorch CPU (Debian python3-torch, torch.set_num_threads(1)) timed from the same
 * script through a spawned python process. Prints a markdown table.
 *
 *   npx tsx bench/depthwise.ts [--backward] [--batch 1] [--min-ms 200] [--python /usr/bin/python3]
 *
 * --backward adds the input- and weight-gradient kernels (same FLOP count each).
 *
 * Columns: "wasm" is the full call as the cpu backend makes it (copy the inputs into WebAssembly
 * memory, run, copy the output into an array from the backend's array pool, handed back after
 * each call as a freed tensor's would be); "wasm kernel" is the WebAssembly function alone on
 * inputs already in its memory (no copies). "reference" recycles its outputs the same way.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from '../src/backends/cpu/kernels/conv2d.js';
import type { Conv2dParams } from '../src/backends/cpu/kernels/types.js';
import { depthwiseConv2dBackwardInput, depthwiseConv2dBackwardWeight, depthwiseConv2dForward } from '../src/backends/cpu/wasm/depthwise.js';
import { wasmKernels, wasmLoadError } from '../src/backends/cpu/wasm/module.js';
import { giveArray } from '../src/backends/cpu/array-pool.js';

interface DepthwiseExports {
  dw_conv_fwd_scratch(...a: number[]): number;
  dw_conv_bwd_input_scratch(...a: number[]): number;
  dw_conv_bwd_weight_scratch(...a: number[]): number;
  dw_conv_fwd(...a: number[]): void;
  dw_conv_bwd_input(...a: number[]): void;
  dw_conv_bwd_weight(...a: number[]): void;
}

const { values } = parseArgs({
  options: {
    backward: { type: 'boolean', default: false },
    batch: { type: 'string', default: '1' },
    'min-ms': { type: 'string', default: '200' },
    python: { type: 'string', default: '/usr/bin/python3' },
  },
});
const batch = Number(values.batch);
let minMs = Number(values['min-ms']);
const kernels = wasmKernels();
if (!kernels) throw new Error(`WebAssembly kernels unavailable: ${wasmLoadError()?.message}`);
const ex = kernels.exports as unknown as DepthwiseExports;

/** [channels, input size, stride]: the depthwise layers of MobileNetV2 (3x3, padding 1). */
const SHAPES: [number, number, number][] = [
  [32, 112, 1],
  [96, 112, 2],
  [144, 56, 1],
  [192, 28, 1],
  [576, 14, 1],
  [960, 7, 1],
];

type Kind = 'fwd' | 'bwdInput' | 'bwdWeight';
const kinds: Kind[] = values.backward ? ['fwd', 'bwdInput', 'bwdWeight'] : ['fwd'];

function params(c: number, size: number, stride: number): Conv2dParams {
  return { inShape: [batch, c, size, size], weightShape: [c, 1, 3, 3], stride: [stride, stride], padding: [1, 1], dilation: [1, 1], groups: c };
}

function outSize(size: number, stride: number): number {
  return Math.floor((size + 2 - 3) / stride) + 1;
}

function flops(c: number, size: number, stride: number): number {
  const o = outSize(size, stride);
  return 2 * batch * c * o * o * 9;
}

function random(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/**
 * Seconds per call: the best of 7 rounds of at least minMs / 5 each, after a warm-up (the best
 * round, not the median, because the machine may be shared: one core was busy with a training
 * run when the numbers in the report were taken).
 */
function time(fn: () => unknown): number {
  const warm = performance.now();
  while (performance.now() - warm < minMs / 2) fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= minMs / 5) break;
    reps *= 2;
  }
  let best = Infinity;
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}

/** The WebAssembly function alone: inputs copied into its memory once, outside the timing. */
function measureKernel(kind: Kind, c: number, size: number, stride: number): number {
  const o = outSize(size, stride);
  const a = kernels!.arena;
  a.reset();
  const x = a.copyIn(random(batch * c * size * size, 1));
  const w = a.copyIn(random(c * 9, 2));
  const b = a.copyIn(random(c, 3));
  const dy = a.copyIn(random(batch * c * o * o, 4));
  const out = a.alloc(Math.max(batch * c * size * size, c * 9) * 4);
  const scratch = a.alloc(Math.max(
    ex.dw_conv_fwd_scratch(3, 3, stride, stride, 1, 1, o, o),
    ex.dw_conv_bwd_input_scratch(size, size, 3, 3, stride, stride, 1, 1, 1, 1, o, o),
    ex.dw_conv_bwd_weight_scratch(c, 1, 3, 3, stride, stride, 1, 1, o, o),
  ));
  const geometry = [batch, c, 1, size, size, 3, 3, stride, stride, 1, 1, 1, 1, o, o];
  const fn =
    kind === 'fwd' ? () => ex.dw_conv_fwd(x, w, b, out, scratch, ...geometry)
    : kind === 'bwdInput' ? () => ex.dw_conv_bwd_input(dy, w, out, scratch, ...geometry)
    : () => ex.dw_conv_bwd_weight(x, dy, out, scratch, ...geometry);
  return time(fn);
}

function measureFovea(kind: Kind, c: number, size: number, stride: number, impl: 'wasm' | 'reference'): number {
  const p = params(c, size, stride);
  const o = outSize(size, stride);
  const x = random(batch * c * size * size, 1);
  const w = random(c * 9, 2);
  const b = random(c, 3);
  const dy = random(batch * c * o * o, 4);
  const wasm = impl === 'wasm';
  const call =
    kind === 'fwd' ? () => (wasm ? depthwiseConv2dForward(x, w, b, p) : conv2dForward(x, w, b, p))
    : kind === 'bwdInput' ? () => (wasm ? depthwiseConv2dBackwardInput(dy, w, p) : conv2dBackwardInput(dy, w, p))
    : () => (wasm ? depthwiseConv2dBackwardWeight(x, dy, p) : conv2dBackwardWeight(x, dy, p));
  // hand each result back to the CPU backend's array pool, as freeing the tensor would
  return time(() => giveArray(call()));
}

const PYTHON = String.raw`
import json, sys, time
import torch
import torch.nn.functional as F
torch.set_num_threads(1)
cfg = json.loads(sys.argv[1])
batch, min_s, kinds = cfg['batch'], cfg['minMs'] / 1000, cfg['kinds']
def timeit(fn):
    warm = time.perf_counter()
    while time.perf_counter() - warm < min_s / 2: fn()
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps): fn()
        if time.perf_counter() - t0 >= min_s / 5: break
        reps *= 2
    best = float('inf')
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(reps): fn()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best
out = {}
for c, size, stride in cfg['shapes']:
    x = torch.randn(batch, c, size, size)
    w = torch.randn(c, 1, 3, 3)
    b = torch.randn(c)
    res = {}
    with torch.no_grad():
        res['fwd'] = timeit(lambda: F.conv2d(x, w, b, stride, 1, 1, c))
    if 'bwdInput' in kinds:
        xg = x.clone().requires_grad_(True)
        wg = w.clone().requires_grad_(True)
        y = F.conv2d(xg, wg, b, stride, 1, 1, c)
        dy = torch.randn_like(y)
        res['bwdInput'] = timeit(lambda: torch.autograd.grad(y, xg, dy, retain_graph=True))
        res['bwdWeight'] = timeit(lambda: torch.autograd.grad(y, wg, dy, retain_graph=True))
    out['%d,%d,%d' % (c, size, stride)] = res
print(json.dumps({'torch': torch.__version__, 'times': out}))
`;

function measureTorch(): { version: string; times: Record<string, Partial<Record<Kind, number>>> } | null {
  const cfg = JSON.stringify({ batch, minMs, kinds, shapes: SHAPES });
  // glibc malloc otherwise serves every tensor of 1 MiB or more from freshly mapped pages here
  // (a page fault per 4 KiB on every call: 32@112 forward ran at 0.3 GFLOP/s instead of ~28);
  // fovea's outputs come from its array pool, so PyTorch gets heap reuse too.
  const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: String(2 ** 30), MALLOC_TRIM_THRESHOLD_: String(2 ** 30) };
  const r = spawnSync(values.python!, ['-c', PYTHON, cfg], { encoding: 'utf8', env });
  if (r.status !== 0) {
    console.error(`PyTorch column skipped: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`);
    return null;
  }
  const parsed = JSON.parse(r.stdout.trim().split('\n').pop()!) as { torch: string; times: Record<string, Partial<Record<Kind, number>>> };
  return { version: parsed.torch, times: parsed.times };
}

const torch = measureTorch();
// One quick pass over every case first: the first large allocations of a process are the
// slowest (the allocator is still mapping fresh pages), which would penalise the first rows.
{
  const saved = minMs;
  minMs = 20;
  for (const kind of kinds) for (const [c, size, stride] of SHAPES) {
    measureFovea(kind, c, size, stride, 'wasm');
    measureFovea(kind, c, size, stride, 'reference');
  }
  minMs = saved;
}
const gf = (f: number, s: number | undefined): string => (s === undefined ? 'n/a' : (f / s / 1e9).toFixed(2));
console.log(`depthwise 3x3 (padding 1), batch ${batch}, GFLOP/s (higher is better); PyTorch ${torch?.version ?? 'unavailable'}, 1 thread`);
for (const kind of kinds) {
  console.log(`\n**${kind === 'fwd' ? 'forward' : kind === 'bwdInput' ? 'input gradient' : 'weight gradient'}**\n`);
  console.log('| shape (C@in -> out, stride) | wasm | wasm kernel | reference | PyTorch | wasm / reference | wasm / PyTorch | wasm kernel / PyTorch |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const [c, size, stride] of SHAPES) {
    const f = flops(c, size, stride);
    const tw = measureFovea(kind, c, size, stride, 'wasm');
    const tk = measureKernel(kind, c, size, stride);
    const tr = measureFovea(kind, c, size, stride, 'reference');
    const tt = torch?.times[`${c},${size},${stride}`]?.[kind];
    const vs = (t: number): string => (tt === undefined ? 'n/a' : `${(tt / t).toFixed(2)}x`);
    console.log(`| ${c}@${size} -> ${outSize(size, stride)}, s${stride} | ${gf(f, tw)} | ${gf(f, tk)} | ${gf(f, tr)} | ${gf(f, tt)} | ${(tr / tw).toFixed(2)}x | ${vs(tw)} | ${vs(tk)} |`);
  }
}
