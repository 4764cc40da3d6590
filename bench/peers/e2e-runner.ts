/**
 * One JavaScript runner of bench/e2e-inference.ts, in its own process (thread pools and WASM
 * heaps of one runtime cannot disturb another): for each model and batch, builds the network,
 * times whole forward passes (warm-up, then the median of --runs), and writes the timings to
 * .bench-cache/e2e/results/<runner>-t<threads>.json and the logits of each cell to
 * .bench-cache/e2e/out/<runner>-t<threads>/<model>.b<batch>.bin for the agreement check.
 *
 *   node --import tsx bench/peers/e2e-runner.ts --runner ort-web --threads 2 --models resnet50 --batch 1,8 --runs 10
 *
 * Runners:
 * - fovea: `createModel(name, { weights })` from the safetensors file, `.eval()`, a timed run is
 *   `noGrad(() => model.forward(x))` and reading the logits; kernel mode in effect
 *   (FOVEA_CPU_KERNELS, default 'wasm'), setNumThreads(--threads).
 * - ort-node / ort-web: the ONNX export with a static batch (bench/peers/export_onnx.py);
 *   intraOpNumThreads / env.wasm.numThreads = --threads.
 * - tfjs-wasm: the same network written with tfjs-core ops (NHWC, BatchNorm folded into the
 *   convolution weights and bias, fused conv2d / depthwiseConv2d / matMul with relu / relu6),
 *   weights read from the same safetensors file. setThreadsCount(--threads) is called before
 *   the backend initialises, but tfjs-backend-wasm turns multithreading off in Node (its
 *   WASM_HAS_MULTITHREAD_SUPPORT flag is false under IS_NODE), so it runs one thread; the
 *   result records the count in effect.
 *
 * A timed run goes from an input tensor that already exists in the runtime to the logits in
 * a JavaScript Float32Array (8 x 1000 floats at most, so the read-back costs microseconds).
 * Expects the files that bench/peers/export_onnx.py writes to .bench-cache/e2e/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { measure, readF32, writeF32, type Timing } from './layers.js';

export const E2E_CACHE = '.bench-cache/e2e';
export const E2E_MODELS = ['resnet50', 'mobilenet_v2'] as const;
export type E2eModel = (typeof E2E_MODELS)[number];
export const IMAGE = 224;
export const CLASSES = 1000;

export const e2eCell = (model: string, batch: number): string => `${model}.b${batch}`;
export const e2eResultPath = (runner: string, threads: number): string => join(E2E_CACHE, 'results', `${runner}-t${threads}.json`);
export const e2eOutputPath = (runner: string, threads: number, model: string, batch: number): string => join(E2E_CACHE, 'out', `${runner}-t${threads}`, `${e2eCell(model, batch)}.bin`);
export const weightsPath = (model: string): string => join(E2E_CACHE, `${model}.safetensors`);
export const onnxPath = (model: string, batch: number): string => join(E2E_CACHE, `${model}.b${batch}.onnx`);
export const refPath = (model: string): string => join(E2E_CACHE, `${model}.ref.bin`);
export const inputPath = (): string => join(E2E_CACHE, 'input.bin');

/** What a runner writes to e2eResultPath. */
export interface E2eResult {
  runner: string;
  config: string;
  /** Threads the runtime actually used. */
  threads: number;
  cells: Record<string, Timing>;
  errors: Record<string, string>;
}

/** Prepared cell: run() is what gets timed and returns the logits [batch, 1000]. */
interface Prepared {
  run(): Promise<Float32Array>;
  dispose(): void;
}

interface Runner {
  config: string;
  threads: number;
  prepare(model: E2eModel, batch: number, x: Float32Array): Promise<Prepared>;
}

/** Float32 tensors of a safetensors file by name (integer buffers such as num_batches_tracked are skipped). */
export function readSafetensorsF32(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, h] of Object.entries(header)) {
    if (name === '__metadata__' || h.dtype !== 'F32') continue;
    const [a, b] = h.data_offsets;
    const data = new Float32Array((b - a) / 4);
    new Uint8Array(data.buffer).set(buf.subarray(8 + n + a, 8 + n + b));
    out.set(name, { shape: h.shape, data });
  }
  return out;
}

async function foveaRunner(threads: number): Promise<Runner> {
  const fv = await import('../../src/index.js');
  const km = await import('../../src/backends/cpu/kernel-mode.js');
  const wasm = km.activeWasm() !== null;
  if (wasm) await fv.setNumThreads(threads);
  const used = wasm ? fv.numThreads() : 1;
  const mode = km.cpuKernels();
  return {
    config: `fovea cpu backend, kernel mode '${mode}'${wasm ? `, WASM module loaded, setNumThreads(${used})` : ', single-threaded'}; createModel(name, { weights }).eval(), noGrad(() => model.forward(x)), NCHW, eval BatchNorm folded into the convolutions and ReLU/ReLU6/residual add in their epilogue (src/nn/fused.ts)`,
    threads: used,
    async prepare(model, batch, xData) {
      if (!fv.listModels().includes(model)) throw new Error(`'${model}' is not in the zoo yet (models: ${fv.listModels().join(', ')})`);
      const net = fv.createModel(model, { weights: weightsPath(model) }).eval();
      const x = fv.tensor(xData, [batch, 3, IMAGE, IMAGE]);
      return {
        async run() {
          const y = fv.noGrad(() => net.forward(x));
          try {
            return (await y.data()) as Float32Array;
          } finally {
            y.dispose();
          }
        },
        dispose() {
          x.dispose();
          net.dispose();
        },
      };
    },
  };
}

async function ortRunner(kind: 'node' | 'web', threads: number): Promise<Runner> {
  type Ort = typeof import('onnxruntime-node');
  let ort: Ort;
  let config: string;
  let options: import('onnxruntime-node').InferenceSession.SessionOptions;
  if (kind === 'node') {
    ort = await import('onnxruntime-node');
    options = { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
    config = `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}, CPU EP (MLAS), intraOpNumThreads ${threads}, interOpNumThreads 1, sequential, graph optimization 'all' (folds BatchNorm into the convolutions), default spinning, preallocated output tensor`;
  } else {
    const web = await import('onnxruntime-web');
    web.env.wasm.numThreads = threads;
    web.env.wasm.simd = true;
    web.env.wasm.proxy = false;
    ort = web as unknown as Ort;
    options = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
    config = `onnxruntime-web ${web.env.versions.web}, wasm EP (ort-wasm-simd-threaded, 128-bit SIMD), env.wasm.numThreads ${threads}${threads > 1 ? ' (worker threads)' : ''}, graph optimization 'all', new output tensor per run`;
  }
  return {
    config,
    threads,
    async prepare(model, batch, xData) {
      const session = await ort.InferenceSession.create(onnxPath(model, batch), options);
      const feeds = { x: new ort.Tensor('float32', xData, [batch, 3, IMAGE, IMAGE]) };
      if (kind === 'web') return { run: async () => (await session.run(feeds)).y.data as Float32Array, dispose: () => void session.release() };
      const y = new ort.Tensor('float32', new Float32Array(batch * CLASSES), [batch, CLASSES]);
      return {
        async run() {
          await session.run(feeds, { y });
          return y.data as Float32Array;
        },
        dispose: () => void session.release(),
      };
    },
  };
}

async function tfjsRunner(threads: number): Promise<Runner> {
  const tf = await import('@tensorflow/tfjs-core');
  const tfw = await import('@tensorflow/tfjs-backend-wasm');
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  tfw.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to initialise');
  await tf.ready();
  const used = tfw.getThreadsCount();
  type T4 = import('@tensorflow/tfjs-core').Tensor4D;
  type T2 = import('@tensorflow/tfjs-core').Tensor2D;
  type Act = 'linear' | 'relu' | 'relu6';

  /** A convolution with its BatchNorm folded in: HWIO filter (depthwise: [K, K, C, 1]) and bias. */
  interface Conv {
    filter: T4;
    bias: import('@tensorflow/tfjs-core').Tensor1D;
    stride: number;
    pad: number;
    depthwise: boolean;
  }

  function loadNet(model: E2eModel) {
    const sd = readSafetensorsF32(weightsPath(model));
    const get = (k: string) => {
      const t = sd.get(k);
      if (!t) throw new Error(`${model}: missing ${k} in ${weightsPath(model)}`);
      return t;
    };
    const owned: import('@tensorflow/tfjs-core').Tensor[] = [];
    /** conv `c` (OIHW, no bias) followed by BatchNorm `bn` (eps 1e-5), folded. */
    const conv = (c: string, bn: string, stride: number, groups = 1): Conv => {
      const w = get(`${c}.weight`);
      const [O, Cg, K] = w.shape;
      const gamma = get(`${bn}.weight`).data;
      const beta = get(`${bn}.bias`).data;
      const mean = get(`${bn}.running_mean`).data;
      const variance = get(`${bn}.running_var`).data;
      const depthwise = groups > 1;
      if (depthwise && (groups !== O || Cg !== 1)) throw new Error(`${c}: only depthwise grouped convs`);
      const f = new Float32Array(w.data.length);
      const b = new Float32Array(O);
      for (let o = 0; o < O; o++) {
        const s = gamma[o] / Math.sqrt(variance[o] + 1e-5);
        b[o] = beta[o] - mean[o] * s;
        for (let ci = 0; ci < Cg; ci++)
          for (let k = 0; k < K * K; k++) f[depthwise ? k * O + o : (k * Cg + ci) * O + o] = w.data[(o * Cg + ci) * K * K + k] * s;
      }
      const filter = tf.tensor4d(f, depthwise ? [K, K, O, 1] : [K, K, Cg, O]);
      const bias = tf.tensor1d(b);
      owned.push(filter, bias);
      return { filter, bias, stride, pad: (K - 1) >> 1, depthwise };
    };
    const linear = (k: string): { w: T2; b: import('@tensorflow/tfjs-core').Tensor1D } => {
      const w = get(`${k}.weight`);
      const [O, I] = w.shape;
      const wt = new Float32Array(O * I);
      for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) wt[i * O + o] = w.data[o * I + i];
      const out = { w: tf.tensor2d(wt, [I, O]), b: tf.tensor1d(get(`${k}.bias`).data) };
      owned.push(out.w, out.b);
      return out;
    };
    /** Applies c (+ optional residual added before the activation); disposes `x` when asked. */
    const apply = (x: T4, c: Conv, activation: Act, disposeX: boolean): T4 => {
      const y = c.depthwise
        ? tf.fused.depthwiseConv2d({ x, filter: c.filter, strides: c.stride, pad: c.pad, bias: c.bias, activation })
        : tf.fused.conv2d({ x, filter: c.filter, strides: c.stride, pad: c.pad, bias: c.bias, activation });
      if (disposeX) x.dispose();
      return y;
    };
    const head = (x: T4, fc: { w: T2; b: import('@tensorflow/tfjs-core').Tensor1D }): T2 => {
      const pooled = tf.mean(x, [1, 2]) as T2;
      x.dispose();
      const y = tf.fused.matMul({ a: pooled, b: fc.w, bias: fc.b }) as T2;
      pooled.dispose();
      return y;
    };
    let forward: (x: T4) => T2;
    if (model === 'resnet50') {
      const stem = conv('conv1', 'bn1', 2);
      const blocks: { c1: Conv; c2: Conv; c3: Conv; down: Conv | null }[] = [];
      [3, 4, 6, 3].forEach((n, li) => {
        for (let i = 0; i < n; i++) {
          const p = `layer${li + 1}.${i}`;
          const stride = i === 0 && li > 0 ? 2 : 1;
          blocks.push({ c1: conv(`${p}.conv1`, `${p}.bn1`, 1), c2: conv(`${p}.conv2`, `${p}.bn2`, stride), c3: conv(`${p}.conv3`, `${p}.bn3`, 1), down: sd.has(`${p}.downsample.0.weight`) ? conv(`${p}.downsample.0`, `${p}.downsample.1`, stride) : null });
        }
      });
      const fc = linear('fc');
      forward = (x) => {
        const s = apply(x, stem, 'relu', false);
        let h = tf.maxPool(s, 3, 2, 1);
        s.dispose();
        for (const b of blocks) {
          const identity = b.down ? apply(h, b.down, 'linear', false) : h;
          const y1 = apply(h, b.c1, 'relu', false);
          const y2 = apply(y1, b.c2, 'relu', true);
          // conv3 + BN + residual add + relu: tfjs fuses the add into the convolution's epilogue
          // only for prelu/leakyrelu alpha, so the add and relu are separate ops.
          const y3 = apply(y2, b.c3, 'linear', true);
          const sum = tf.add(y3, identity);
          y3.dispose();
          if (b.down) identity.dispose();
          h.dispose();
          h = tf.relu(sum) as T4;
          sum.dispose();
        }
        return head(h, fc);
      };
    } else {
      // torchvision mobilenet_v2: features.0 stem, features.1..17 inverted residuals, features.18 1x1 to 1280.
      const setting: [number, number, number, number][] = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
      const stem = conv('features.0.0', 'features.0.1', 2);
      const blocks: { convs: [Conv, Act][]; residual: boolean }[] = [];
      let idx = 1;
      let inC = 32;
      for (const [t, c, n, s] of setting) {
        for (let i = 0; i < n; i++, idx++) {
          const stride = i === 0 ? s : 1;
          const p = `features.${idx}.conv`;
          const hidden = inC * t;
          const convs: [Conv, Act][] =
            t === 1
              ? [[conv(`${p}.0.0`, `${p}.0.1`, stride, hidden), 'relu6'], [conv(`${p}.1`, `${p}.2`, 1), 'linear']]
              : [[conv(`${p}.0.0`, `${p}.0.1`, 1), 'relu6'], [conv(`${p}.1.0`, `${p}.1.1`, stride, hidden), 'relu6'], [conv(`${p}.2`, `${p}.3`, 1), 'linear']];
          blocks.push({ convs, residual: stride === 1 && inC === c });
          inC = c;
        }
      }
      const last = conv(`features.${idx}.0`, `features.${idx}.1`, 1);
      const fc = linear('classifier.1');
      forward = (x) => {
        let h = apply(x, stem, 'relu6', false);
        for (const b of blocks) {
          let y = h;
          for (const [c, act] of b.convs) y = apply(y, c, act, y !== h);
          if (b.residual) {
            const sum = tf.add(y, h) as T4;
            y.dispose();
            y = sum;
          }
          h.dispose();
          h = y;
        }
        return head(apply(h, last, 'relu6', true), fc);
      };
    }
    return { forward, dispose: () => tf.dispose(owned) };
  }

  return {
    config: `TensorFlow.js ${tf.version_core} wasm backend (XNNPACK), SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off'}, multithread ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'on' : 'off (tfjs disables it in Node)'}, setThreadsCount(${threads}) → ${used} thread${used > 1 ? 's' : ''}; network written with tfjs-core ops: NHWC, BatchNorm folded into conv weights/bias, fused conv2d / depthwiseConv2d with relu/relu6, add, maxPool, mean, fused matMul`,
    threads: used,
    async prepare(model, batch, xData) {
      const net = loadNet(model);
      const xNhwc = new Float32Array(xData.length);
      const HW = IMAGE * IMAGE;
      for (let n = 0; n < batch; n++) for (let c = 0; c < 3; c++) for (let i = 0; i < HW; i++) xNhwc[(n * HW + i) * 3 + c] = xData[(n * 3 + c) * HW + i];
      const x = tf.tensor4d(xNhwc, [batch, IMAGE, IMAGE, 3]);
      return {
        async run() {
          const y = net.forward(x);
          try {
            return (await y.data()) as Float32Array;
          } finally {
            y.dispose();
          }
        },
        dispose() {
          x.dispose();
          net.dispose();
        },
      };
    },
  };
}

async function makeRunner(name: string, threads: number): Promise<Runner> {
  switch (name) {
    case 'fovea':
      return foveaRunner(threads);
    case 'ort-node':
      return ortRunner('node', threads);
    case 'ort-web':
      return ortRunner('web', threads);
    case 'tfjs-wasm':
      return tfjsRunner(threads);
    default:
      throw new Error(`unknown runner '${name}' (fovea, ort-node, ort-web, tfjs-wasm)`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runner: { type: 'string' },
      threads: { type: 'string', default: '1' },
      models: { type: 'string', default: E2E_MODELS.join(',') },
      batch: { type: 'string', default: '1,8' },
      runs: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
    },
  });
  const runnerName = values.runner ?? '';
  const threads = Number(values.threads);
  const models = values.models!.split(',') as E2eModel[];
  const batches = values.batch!.split(',').map(Number);
  const runs = Number(values.runs);
  const timing = { reps: runs, minReps: runs, maxMs: Infinity, warmup: Number(values.warmup), warmupMs: 0 };
  const input = readF32(inputPath());

  const runner = await makeRunner(runnerName, threads);
  const result: E2eResult = { runner: runnerName, config: runner.config, threads: runner.threads, cells: {}, errors: {} };
  for (const model of models) {
    for (const batch of batches) {
      const cell = e2eCell(model, batch);
      try {
        const n = batch * 3 * IMAGE * IMAGE;
        if (input.length < n) throw new Error(`input.bin holds fewer than ${batch} images`);
        const p = await runner.prepare(model, batch, input.slice(0, n));
        const t = await measure(p.run, timing);
        result.cells[cell] = t;
        const out = e2eOutputPath(runnerName, threads, model, batch);
        mkdirSync(dirname(out), { recursive: true });
        writeF32(out, Float32Array.from(await p.run()));
        p.dispose();
        process.stderr.write(`  ${runnerName} ${threads}T ${cell}: ${t.medianMs.toFixed(1)} ms median, ${t.minMs.toFixed(1)} fastest (${t.runs} runs)\n`);
      } catch (e) {
        result.errors[cell] = (e as Error).message;
        process.stderr.write(`  ${runnerName} ${threads}T ${cell}: FAILED ${(e as Error).message}\n`);
      }
    }
  }
  mkdirSync(dirname(e2eResultPath(runnerName, threads)), { recursive: true });
  writeFileSync(e2eResultPath(runnerName, threads), JSON.stringify(result, null, 2));
  // onnxruntime-web's worker threads and fovea's pool keep the event loop alive.
  process.exit(0);
}

if (process.argv[1] && /e2e-runner\.ts$/.test(process.argv[1])) await main();
