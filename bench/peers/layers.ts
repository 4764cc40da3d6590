/**
 * Shared by bench/conv-layers.ts and its child runners (bench/peers/js-runner.ts): the layer
 * shapes, their FLOP counts, deterministic input/weight data written once to .bench-cache/,
 * and the warm-up + median timing loop every JavaScript runner uses (the PyTorch runner,
 * bench/peers/torch_conv.py, mirrors it).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One conv2d layer at batch 1, NCHW, square kernel, symmetric zero padding, dilation 1. */
export interface ConvLayer {
  /** File-safe id, e.g. 'r50.3x3-64@56'. */
  id: string;
  model: 'resnet50' | 'mobilenetv2';
  /** Human label for the table. */
  label: string;
  inC: number;
  outC: number;
  size: number;
  kernel: number;
  stride: number;
  pad: number;
  groups: number;
}

function layer(model: ConvLayer['model'], id: string, label: string, inC: number, outC: number, size: number, kernel: number, stride = 1, groups = 1): ConvLayer {
  return { id, model, label, inC, outC, size, kernel, stride, pad: (kernel - 1) >> 1, groups };
}

export const LAYERS: readonly ConvLayer[] = [
  layer('resnet50', 'r50.stem7x7s2', 'R50 stem 7x7/2 3→64 @224', 3, 64, 224, 7, 2),
  layer('resnet50', 'r50.1x1-64-64', 'R50 1x1 64→64 @56', 64, 64, 56, 1),
  layer('resnet50', 'r50.3x3-64', 'R50 3x3 64→64 @56', 64, 64, 56, 3),
  layer('resnet50', 'r50.1x1-64-256', 'R50 1x1 64→256 @56', 64, 256, 56, 1),
  layer('resnet50', 'r50.3x3s2-128', 'R50 3x3/2 128 @56→28', 128, 128, 56, 3, 2),
  layer('resnet50', 'r50.3x3-256', 'R50 3x3 256 @14', 256, 256, 14, 3),
  layer('resnet50', 'r50.1x1-1024-256', 'R50 1x1 1024→256 @14', 1024, 256, 14, 1),
  layer('resnet50', 'r50.3x3-512', 'R50 3x3 512 @7', 512, 512, 7, 3),
  layer('mobilenetv2', 'mb2.stem3x3s2', 'MBv2 stem 3x3/2 3→32 @224', 3, 32, 224, 3, 2),
  layer('mobilenetv2', 'mb2.dw3x3-32', 'MBv2 dw 3x3 32 @112', 32, 32, 112, 3, 1, 32),
  layer('mobilenetv2', 'mb2.1x1-32-16', 'MBv2 1x1 32→16 @112', 32, 16, 112, 1),
  layer('mobilenetv2', 'mb2.1x1-16-96', 'MBv2 1x1 16→96 @112', 16, 96, 112, 1),
  layer('mobilenetv2', 'mb2.dw3x3s2-96', 'MBv2 dw 3x3/2 96 @112→56', 96, 96, 112, 3, 2, 96),
  layer('mobilenetv2', 'mb2.1x1-144-24', 'MBv2 1x1 144→24 @56', 144, 24, 56, 1),
  layer('mobilenetv2', 'mb2.dw3x3-576', 'MBv2 dw 3x3 576 @14', 576, 576, 14, 3, 1, 576),
  layer('mobilenetv2', 'mb2.1x1-960-320', 'MBv2 1x1 960→320 @7', 960, 320, 7, 1),
];

export function outSize(l: ConvLayer): number {
  return Math.floor((l.size + 2 * l.pad - l.kernel) / l.stride) + 1;
}

export const inputShape = (l: ConvLayer): [number, number, number, number] => [1, l.inC, l.size, l.size];
export const weightShape = (l: ConvLayer): [number, number, number, number] => [l.outC, l.inC / l.groups, l.kernel, l.kernel];
export const outputShape = (l: ConvLayer): [number, number, number, number] => [1, l.outC, outSize(l), outSize(l)];
export const isDepthwise = (l: ConvLayer): boolean => l.groups > 1 && l.groups === l.inC && l.groups === l.outC;

/** Forward FLOPs, 2 x multiply-adds (bias not counted), in GFLOP. */
export function gflop(l: ConvLayer): number {
  const o = outSize(l);
  return (2 * l.outC * o * o * (l.inC / l.groups) * l.kernel * l.kernel) / 1e9;
}

/** Picks layers by model name ('resnet50', 'mobilenetv2') or layer id, comma-separated. */
export function selectLayers(spec: string): ConvLayer[] {
  const keys = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const picked = LAYERS.filter((l) => keys.includes(l.model) || keys.includes(l.id));
  const unknown = keys.filter((k) => !LAYERS.some((l) => l.model === k || l.id === k));
  if (unknown.length) throw new Error(`unknown layer or model '${unknown.join(', ')}'; models: resnet50, mobilenetv2; ids: ${LAYERS.map((l) => l.id).join(', ')}`);
  return picked;
}

export const CACHE = '.bench-cache/conv-layers';
/** Bump when the data generator changes, so cached inputs and ONNX models are rebuilt. */
const DATA_VERSION = 1;

export const layerDir = (l: ConvLayer): string => join(CACHE, 'layers', l.id);
export const outputPath = (runner: string, l: ConvLayer): string => join(CACHE, 'out', runner, `${l.id}.bin`);
export const resultPath = (runner: string): string => join(CACHE, 'results', `${runner}.json`);

export interface LayerData {
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
}

/** mulberry32: a tiny seeded generator, so every runner sees identical data. */
function uniform(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

function seedOf(id: string): number {
  let h = 2166136261;
  for (const c of id) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

/**
 * Writes x.bin, w.bin, b.bin (raw little-endian float32; x NCHW, w OIHW) for each layer into
 * its cache folder unless they are there already. x ~ U(-1, 1), w ~ U with variance 1/fanIn,
 * so outputs are O(1) and absolute differences are meaningful.
 */
export function ensureLayerData(layers: readonly ConvLayer[]): void {
  for (const l of layers) {
    const dir = layerDir(l);
    const stamp = join(dir, 'data.json');
    if (existsSync(stamp) && JSON.parse(readFileSync(stamp, 'utf8')).version === DATA_VERSION) continue;
    mkdirSync(dir, { recursive: true });
    const fanIn = (l.inC / l.groups) * l.kernel * l.kernel;
    const seed = seedOf(l.id);
    const count = (s: number[]): number => s.reduce((a, b) => a * b, 1);
    const save = (name: string, a: Float32Array): void => writeFileSync(join(dir, name), new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    save('x.bin', uniform(count(inputShape(l)), seed, 1));
    save('w.bin', uniform(count(weightShape(l)), seed + 1, Math.sqrt(3 / fanIn)));
    save('b.bin', uniform(l.outC, seed + 2, 0.1));
    writeFileSync(stamp, JSON.stringify({ version: DATA_VERSION, layer: l }, null, 2));
  }
}

export function readF32(path: string): Float32Array {
  const buf = readFileSync(path);
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

export function writeF32(path: string, a: Float32Array): void {
  writeFileSync(path, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

export function loadLayerData(l: ConvLayer): LayerData {
  const dir = layerDir(l);
  return { x: readF32(join(dir, 'x.bin')), w: readF32(join(dir, 'w.bin')), b: readF32(join(dir, 'b.bin')) };
}

export interface TimingOptions {
  /** Timed runs (at most). */
  reps: number;
  /** Stop timing a layer once this much time has gone by and at least minReps ran. */
  maxMs: number;
  minReps: number;
  /** Untimed runs first: at least `warmup`, then more until `warmupMs` has gone by (at most 200 runs). */
  warmup: number;
  /**
   * Warm-up time. Long enough for allocators to settle: a runtime that returns a fresh
   * multi-MB JavaScript array per run pays 5-10 ms of page faults per run here until V8's
   * garbage collector has freed a few and malloc starts reusing them (tens of runs).
   */
  warmupMs: number;
}

export interface Timing {
  medianMs: number;
  minMs: number;
  runs: number;
  /** Which code path ran, where a runner tries several (PyTorch). */
  path?: string;
}

/** Warm-up, then up to `reps` timed runs within `maxMs`; returns the median. */
export async function measure(run: () => Promise<unknown>, o: TimingOptions): Promise<Timing> {
  const w0 = performance.now();
  for (let i = 0; i < 200; i++) {
    await run();
    const elapsed = performance.now() - w0;
    // A slow layer (first run over a quarter of the budget) gets one warm-up run only.
    if (i === 0 && elapsed > o.maxMs / 4) break;
    if (i + 1 >= o.warmup && elapsed >= o.warmupMs) break;
  }
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < o.reps) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
    if (times.length >= o.minReps && performance.now() - t0 > o.maxMs) break;
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const medianMs = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  return { medianMs, minMs: times[0], runs: times.length };
}

/** What a runner writes to resultPath(runner). */
export interface RunnerResult {
  runner: string;
  /** One line on the configuration actually in effect (versions, threads, mode). */
  config: string;
  threads: number;
  layers: Record<string, Timing>;
  errors: Record<string, string>;
}
