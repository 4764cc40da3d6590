/**
 * GPU time of each distinct ResNet-50 convolution on WebGPU, forward and both backward products,
 * from timestamp queries: GFLOP/s per layer and kernel, to see which convolution shapes and
 * which implicit-GEMM addressing cost the most. On lavapipe (a CPU emulating a GPU) the
 * absolute numbers mean little, but two runs of the same build compare kernels' instruction
 * counts; on a real GPU they are the layer-by-layer story behind bench/webgpu-models.ts.
 *
 *   npx tsx bench/webgpu-conv-layers.ts [--batch 1] [--scale 0.25] [--repeats 3] [--warmup-ms 300]
 *                                       [--layers 3x3,7x7] [--tiles auto,64,128] [--json FILE]
 *
 * --scale multiplies the spatial sizes (0.25: the 224 network at 56, for lavapipe); --layers keeps
 * the rows whose label contains one of the given strings; --tiles repeats the table with the GEMM
 * tile edge chosen as usual (auto) or forced to 64 or 128 for every product, the data for tuning
 * the automatic choice (gemm.ts gemmTile) on a GPU. Each cell is the median of --repeats
 * profiled calls after unprofiled ones for --warmup-ms (pipeline compilation, and the clock ramp of
 * a GPU that idles slowly: an H100 needs 250-350 ms of work to reach its boost clock).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { conv2d, initWebGPU, manualSeed, profileWebGPU, randn, setBackend, tidy, type KernelProfile, type Tensor } from '../src/index.js';
import { forceGemmTile } from '../src/backends/webgpu/kernels/gemm.js';
import { loadBundledWasm } from './gpu/bundled-wasm.js';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '1' },
    scale: { type: 'string', default: '0.25' },
    repeats: { type: 'string', default: '3' },
    'warmup-ms': { type: 'string', default: '300' },
    layers: { type: 'string' },
    tiles: { type: 'string', default: 'auto' },
    json: { type: 'string' },
  },
});

interface Layer {
  label: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  /** Input edge at 224. */
  size: number;
}

/** ResNet-50 (torchvision v1.5: stride on the 3x3) convolutions, each distinct shape once. */
const RESNET50: Layer[] = [
  { label: 'stem 7x7/2 3->64', cin: 3, cout: 64, k: 7, stride: 2, size: 224 },
  { label: 'l1 1x1 64->64', cin: 64, cout: 64, k: 1, stride: 1, size: 56 },
  { label: 'l1 3x3 64->64', cin: 64, cout: 64, k: 3, stride: 1, size: 56 },
  { label: 'l1 1x1 64->256', cin: 64, cout: 256, k: 1, stride: 1, size: 56 },
  { label: 'l1 1x1 256->64', cin: 256, cout: 64, k: 1, stride: 1, size: 56 },
  { label: 'l2 1x1 256->128', cin: 256, cout: 128, k: 1, stride: 1, size: 56 },
  { label: 'l2 3x3/2 128->128', cin: 128, cout: 128, k: 3, stride: 2, size: 56 },
  { label: 'l2 1x1/2 256->512 (down)', cin: 256, cout: 512, k: 1, stride: 2, size: 56 },
  { label: 'l2 1x1 128->512', cin: 128, cout: 512, k: 1, stride: 1, size: 28 },
  { label: 'l2 3x3 128->128', cin: 128, cout: 128, k: 3, stride: 1, size: 28 },
  { label: 'l3 3x3/2 256->256', cin: 256, cout: 256, k: 3, stride: 2, size: 28 },
  { label: 'l3 3x3 256->256', cin: 256, cout: 256, k: 3, stride: 1, size: 14 },
  { label: 'l3 1x1 1024->256', cin: 1024, cout: 256, k: 1, stride: 1, size: 14 },
  { label: 'l4 3x3/2 512->512', cin: 512, cout: 512, k: 3, stride: 2, size: 14 },
  { label: 'l4 3x3 512->512', cin: 512, cout: 512, k: 3, stride: 1, size: 7 },
  { label: 'l4 1x1 2048->512', cin: 2048, cout: 512, k: 1, stride: 1, size: 7 },
];

const batch = Number(values.batch);
const scale = Number(values.scale);
const repeats = Number(values.repeats);
const filters = values.layers?.split(',');
const layers = RESNET50.filter((l) => !filters || filters.some((f) => l.label.includes(f)));

process.stderr.write(`${await loadBundledWasm()}\n`);
const info = await initWebGPU();
setBackend('webgpu');
if (!info.features.timestampQuery) {
  console.error('this adapter has no timestamp-query: no per-kernel GPU times to report');
  process.exit(1);
}
console.log(`adapter: ${info.adapter}; batch ${batch}, spatial scale ${scale}, median of ${repeats}, ${new Date().toISOString().slice(0, 10)}\n`);

/** GPU ms per kernel family (the program name up to its first variant suffix). */
function byKernel(p: KernelProfile): Map<string, number> {
  const out = new Map<string, number>();
  for (const k of p.kernels) {
    const family = k.kernel.startsWith('conv2dBackwardWeight') || k.kernel === 'sum_splits' ? 'weight' : k.kernel.startsWith('conv2dBackwardInput') ? 'input' : k.kernel.startsWith('conv2d') ? 'forward' : null;
    if (family) out.set(family, (out.get(family) ?? 0) + k.ms);
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface Row { label: string; mflop: number; forwardMs: number; inputMs: number; weightMs: number }

/** GPU time of each layer's forward and backward products, a table row printed per layer. */
async function measureLayers(): Promise<Row[]> {
  const rows: Row[] = [];
  console.log('| layer | input | MFLOP | forward ms | GFLOP/s | backward input ms | GFLOP/s | backward weight ms | GFLOP/s |');
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|');
  manualSeed(0);
  for (const l of layers) {
    const size = Math.max(l.k, Math.round(l.size * scale));
    const pad = (l.k - 1) >> 1;
    const x = randn([batch, l.cin, size, size]).requiresGrad_();
    const w = randn([l.cout, l.cin, l.k, l.k]).requiresGrad_();
    const outSize = Math.floor((size + 2 * pad - l.k) / l.stride) + 1;
    const dy = randn([batch, l.cout, outSize, outSize]);
    const step = async (): Promise<void> => {
      const grads: Tensor[] = tidy(() => {
        const y = conv2d(x, w, null, { stride: l.stride, padding: pad });
        y.backward(dy);
        return [x.grad!, w.grad!];
      });
      await Promise.all(grads.map((g) => g.data()));
      x.grad = null;
      w.grad = null;
      for (const g of grads) g.dispose();
    };
    const w0 = performance.now();
    do await step();
    while (performance.now() - w0 < Number(values['warmup-ms']));
    const f: number[] = [], bi: number[] = [], bw: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const t = byKernel(await profileWebGPU(step));
      f.push(t.get('forward') ?? NaN), bi.push(t.get('input') ?? NaN), bw.push(t.get('weight') ?? NaN);
    }
    const mflop = (2 * batch * l.cout * outSize * outSize * l.cin * l.k * l.k) / 1e6;
    const row = { label: l.label, mflop, forwardMs: median(f), inputMs: median(bi), weightMs: median(bw) };
    rows.push(row);
    const rate = (ms: number): string => (mflop / ms).toFixed(1);
    console.log(`| ${l.label} | ${batch}x${l.cin}x${size}x${size} | ${mflop.toFixed(1)} | ${row.forwardMs.toFixed(3)} | ${rate(row.forwardMs)} | ${row.inputMs.toFixed(3)} | ${rate(row.inputMs)} | ${row.weightMs.toFixed(3)} | ${rate(row.weightMs)} |`);
    for (const t of [x, w, dy]) t.dispose();
  }
  const total = (k: keyof Row): number => rows.reduce((s, r) => s + (r[k] as number), 0);
  console.log(`\ntotal GPU ms: forward ${total('forwardMs').toFixed(2)}, backward input ${total('inputMs').toFixed(2)}, backward weight ${total('weightMs').toFixed(2)}`);
  return rows;
}

const results: { tiles: string; rows: Row[] }[] = [];
for (const tiles of values.tiles!.split(',')) {
  if (tiles !== 'auto' && tiles !== '64' && tiles !== '128') throw new Error(`--tiles: auto, 64 or 128, got '${tiles}'`);
  forceGemmTile(tiles === 'auto' ? null : (Number(tiles) as 64 | 128));
  console.log(`\n### GEMM tiles: ${tiles === 'auto' ? 'automatic (gemmTile)' : `${tiles} x ${tiles} for every product`}\n`);
  results.push({ tiles, rows: await measureLayers() });
  // Written after each table, so a run stopped at its time cap keeps what it measured.
  if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: info.adapter, batch, scale, results }, null, 2));
}
forceGemmTile(null);
process.exit(0);
