/**
 * One JavaScript runner of bench/conv-layers.ts, in its own process (thread pools and WASM
 * heaps of one peer cannot disturb another). Times each layer (warm-up, then median), writes
 * the timings to .bench-cache/conv-layers/results/<runner>.json and one output per layer
 * (NCHW float32) to .bench-cache/conv-layers/out/<runner>/ for the agreement check.
 *
 *   node --import tsx bench/peers/js-runner.ts --runner ort-web --threads 2 --layers r50.3x3-64 --reps 20
 *
 * Runners: fovea (the kernel mode in effect: FOVEA_CPU_KERNELS or the default), fovea-ref
 * (setCpuKernels('reference')), ort-node, ort-web, tfjs-wasm, tfjs-cpu.
 *
 * What a timed run covers: by default, the convolution with its result left where the runtime
 * keeps results (fovea and tfjs: a tensor in backend memory, disposed after the run; ORT: a
 * preallocated output tensor it writes into). With --readback, the output is also read into a
 * fresh JavaScript array each run (fovea and tfjs: `await y.data()`; ORT: its own new output
 * tensor): on these VMs a fresh 3-5 MB buffer costs 8-12 ms of page faults, more than many of
 * the convolutions, so it is off by default.
 * Expects the layer data (and, for ort-*, the ONNX models) that bench/conv-layers.ts prepares.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type ConvLayer,
  type LayerData,
  type RunnerResult,
  inputShape,
  isDepthwise,
  layerDir,
  loadLayerData,
  measure,
  outputPath,
  outputShape,
  resultPath,
  selectLayers,
  weightShape,
  writeF32,
} from './layers.js';

const { values } = parseArgs({
  options: {
    runner: { type: 'string' },
    threads: { type: 'string', default: '1' },
    layers: { type: 'string', default: 'resnet50,mobilenetv2' },
    reps: { type: 'string', default: '20' },
    'max-ms': { type: 'string', default: '2000' },
    'min-reps': { type: 'string', default: '3' },
    readback: { type: 'boolean', default: false },
    warmup: { type: 'string', default: '2' },
    'warmup-ms': { type: 'string', default: '300' },
  },
});
const runnerName = values.runner ?? '';
const threads = Number(values.threads);
const layers = selectLayers(values.layers!);
const readback = values.readback!;
const timing = { reps: Number(values.reps), maxMs: Number(values['max-ms']), minReps: Number(values['min-reps']), warmup: Number(values.warmup), warmupMs: Number(values['warmup-ms']) };

/** Prepared layer: run() is what gets timed; nchw() gives the output for the agreement check. */
interface Prepared {
  run(): Promise<unknown>;
  nchw(): Promise<Float32Array>;
  dispose(): void;
}

interface Runner {
  config: string;
  threads: number;
  prepare(l: ConvLayer, d: LayerData): Promise<Prepared>;
}

async function foveaRunner(reference: boolean): Promise<Runner> {
  const { ops, tensor, noGrad } = await import('../../src/index.js');
  const km = await import('../../src/backends/cpu/kernel-mode.js');
  const { wasmLoadError } = await import('../../src/backends/cpu/wasm/module.js');
  const { setNumThreads, numThreads } = await import('../../src/backends/cpu/wasm/threads.js');
  if (reference) km.setCpuKernels('reference');
  const mode = km.cpuKernels();
  const wasm = km.activeWasm() !== null;
  // The worker pool serves the WebAssembly kernels only; the reference kernels are single-threaded.
  if (wasm) await setNumThreads(threads);
  const used = wasm ? numThreads() : 1;
  const err = mode === 'wasm' && !wasm ? ` (WASM module unavailable: ${wasmLoadError()?.message ?? '?'}; reference kernels ran)` : '';
  const detail = mode === 'wasm' && wasm ? ` (WASM module loaded; an op without a WASM kernel yet runs its reference kernel), setNumThreads(${used})` : ', single-threaded';
  return {
    config: `fovea cpu backend, kernel mode '${mode}'${detail}${err}`,
    threads: used,
    async prepare(l, d) {
      const x = tensor(d.x, inputShape(l));
      const w = tensor(d.w, weightShape(l));
      const b = tensor(d.b, [l.outC]);
      const opts = { stride: l.stride, padding: l.pad, groups: l.groups };
      const once = async (read: boolean): Promise<Float32Array | null> => {
        const y = noGrad(() => ops.conv2d(x, w, b, opts));
        try {
          return read ? ((await y.data()) as Float32Array) : null;
        } finally {
          y.dispose();
        }
      };
      return { run: () => once(readback), nchw: async () => (await once(true))!, dispose: () => [x, w, b].forEach((t) => t.dispose()) };
    },
  };
}

async function ortRunner(kind: 'node' | 'web'): Promise<Runner> {
  type Ort = typeof import('onnxruntime-node');
  let ort: Ort;
  let config: string;
  let options: import('onnxruntime-node').InferenceSession.SessionOptions;
  const preallocate = kind === 'node' && !readback;
  if (kind === 'node') {
    ort = await import('onnxruntime-node');
    options = { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' };
    config = `onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common}, CPU EP (MLAS), intraOpNumThreads ${threads}, interOpNumThreads 1, graph optimization 'all', default spinning, ${readback ? 'new output tensor per run' : 'preallocated output tensor'}`;
  } else {
    const web = await import('onnxruntime-web');
    web.env.wasm.numThreads = threads;
    web.env.wasm.simd = true;
    web.env.wasm.proxy = false;
    ort = web as unknown as Ort;
    options = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
    config = `onnxruntime-web ${web.env.versions.web}, wasm EP (ort-wasm-simd-threaded, 128-bit SIMD, no relaxed SIMD in Node 20), env.wasm.numThreads ${threads}${threads > 1 ? ' (worker threads)' : ''}, graph optimization 'all', new output tensor per run (the wasm EP leaves a preallocated CPU output unfilled)`;
  }
  return {
    config,
    threads,
    async prepare(l, d) {
      const session = await ort.InferenceSession.create(join(layerDir(l), 'model.onnx'), options);
      const feeds = { x: new ort.Tensor('float32', d.x, inputShape(l)) };
      const fresh = async (): Promise<Float32Array> => (await session.run(feeds)).y.data as Float32Array;
      if (!preallocate) return { run: fresh, nchw: async () => Float32Array.from(await fresh()), dispose: () => void session.release() };
      const y = new ort.Tensor('float32', new Float32Array(outputShape(l).reduce((a, b) => a * b, 1)), outputShape(l));
      const into = async (): Promise<void> => void (await session.run(feeds, { y }));
      return {
        run: into,
        async nchw() {
          await into();
          const a = Float32Array.from(y.data as Float32Array);
          const b = await fresh();
          // Both ways must give the same values.
          for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error(`${kind}: preallocated and fresh outputs differ at ${i}`);
          return b;
        },
        dispose: () => void session.release(),
      };
    },
  };
}

async function tfjsRunner(backend: 'wasm' | 'cpu'): Promise<Runner> {
  const tf = await import('@tensorflow/tfjs-core');
  if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  else await import('@tensorflow/tfjs-backend-cpu');
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs backend ${backend} failed to initialise`);
  await tf.ready();
  const simd = backend === 'wasm' ? `, SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off'}, multithread ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'on' : 'off (Node: no SharedArrayBuffer workers for tfjs)'}` : ', pure JavaScript';
  return {
    config: `TensorFlow.js ${tf.version_core} ${backend} backend${simd}, 1 thread, NHWC input, HWIO filter, fused conv2d / depthwiseConv2d with bias`,
    threads: 1,
    async prepare(l, d) {
      const [, C, H, W] = inputShape(l);
      const [O, Cg, K] = weightShape(l);
      const xNhwc = new Float32Array(d.x.length);
      for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) xNhwc[i * C + c] = d.x[c * H * W + i];
      const dw = isDepthwise(l);
      if (l.groups > 1 && !dw) throw new Error('tfjs: grouped (non-depthwise) conv is not benchmarked');
      // depthwise: [kh, kw, C, 1]; dense: [kh, kw, C, O] (HWIO)
      const f = new Float32Array(d.w.length);
      for (let o = 0; o < O; o++)
        for (let c = 0; c < Cg; c++)
          for (let k = 0; k < K * K; k++) f[dw ? k * O + o : (k * Cg + c) * O + o] = d.w[(o * Cg + c) * K * K + k];
      const x = tf.tensor4d(xNhwc, [1, H, W, C]);
      const filter = tf.tensor4d(f, dw ? [K, K, C, 1] : [K, K, C, O]);
      const bias = tf.tensor1d(d.b);
      const conv = (): import('@tensorflow/tfjs-core').Tensor4D =>
        dw
          ? tf.fused.depthwiseConv2d({ x, filter, strides: l.stride, pad: l.pad, bias })
          : tf.fused.conv2d({ x, filter, strides: l.stride, pad: l.pad, bias });
      // Both backends compute synchronously inside the op call.
      const once = async (read: boolean): Promise<Float32Array | null> => {
        const y = conv();
        try {
          return read ? ((await y.data()) as Float32Array) : null;
        } finally {
          y.dispose();
        }
      };
      return {
        run: () => once(readback),
        async nchw() {
          const [, Oc, OH, OW] = outputShape(l);
          const y = (await once(true))!;
          const out = new Float32Array(y.length);
          for (let c = 0; c < Oc; c++) for (let i = 0; i < OH * OW; i++) out[c * OH * OW + i] = y[i * Oc + c];
          return out;
        },
        dispose: () => tf.dispose([x, filter, bias]),
      };
    },
  };
}

async function makeRunner(name: string): Promise<Runner> {
  switch (name) {
    case 'fovea':
      return foveaRunner(false);
    case 'fovea-ref':
      return foveaRunner(true);
    case 'ort-node':
      return ortRunner('node');
    case 'ort-web':
      return ortRunner('web');
    case 'tfjs-wasm':
      return tfjsRunner('wasm');
    case 'tfjs-cpu':
      return tfjsRunner('cpu');
    default:
      throw new Error(`unknown runner '${name}' (fovea, fovea-ref, ort-node, ort-web, tfjs-wasm, tfjs-cpu)`);
  }
}

const runner = await makeRunner(runnerName);
const result: RunnerResult = { runner: runnerName, config: runner.config, threads: runner.threads, layers: {}, errors: {} };
for (const l of layers) {
  try {
    const p = await runner.prepare(l, loadLayerData(l));
    result.layers[l.id] = await measure(p.run, timing);
    const out = outputPath(runnerName, l);
    mkdirSync(dirname(out), { recursive: true });
    writeF32(out, await p.nchw());
    p.dispose();
    process.stderr.write(`  ${runnerName} ${l.id}: ${result.layers[l.id].medianMs.toFixed(2)} ms (${result.layers[l.id].runs} runs)\n`);
  } catch (e) {
    result.errors[l.id] = (e as Error).message;
    process.stderr.write(`  ${runnerName} ${l.id}: FAILED ${(e as Error).message}\n`);
  }
}
mkdirSync(dirname(resultPath(runnerName)), { recursive: true });
writeFileSync(resultPath(runnerName), JSON.stringify(result, null, 2));
// onnxruntime-web's worker threads keep the event loop alive.
process.exit(0);
