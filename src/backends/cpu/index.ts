import { getKernel, registerKernel, type KernelAttrs } from '../registry.js';
import { fromFloat16Bits, toFloat16Bits } from '../../tensor/float16.js';
import type { KernelTensor } from '../backend.js';
import { ENGINE } from '../../tensor/engine.js';
import { allocTyped, type DType, type TypedArray } from '../../tensor/dtype.js';
import { Rng } from '../../tensor/rng.js';
import { CpuBackend, valuesOf } from './cpu-backend.js';
import { affine, binary, unary, unaryGrad, type BinaryName, type UnaryGradName, type UnaryName } from './kernels/elementwise.js';
import { argmaxBlock, reduceBlock, softmaxBlock, type ReduceName } from './kernels/reduce.js';
import { concat, copyBox, transpose } from './kernels/shape.js';
import { batchedGemm } from './kernels/matmul.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dForward, conv2dOutputShape } from './kernels/conv2d.js';
import { avgPool2dBackward, avgPool2dForward, maxPool2dBackward, maxPool2dForward } from './kernels/pool2d.js';
import { batchNormBackward, batchNormInferenceForward, batchNormTrainForward } from './kernels/batchnorm.js';
import type { Conv2dParams, FloatArray, Pool2dParams } from './kernels/types.js';
import { giveArray, takeArray } from './array-pool.js';
import { layerNormForward } from './kernels/layernorm.js';
import { wasmAdd, WASM_ADD_MIN_SIZE } from './wasm/elementwise.js';
import { activationBackward, activationForward, useWasmActivation, type ActivationName } from './wasm/activation.js';
import { avgPool2dBackward as wasmAvgPool2dBackward, avgPool2dForward as wasmAvgPool2dForward, maxPool2dForward as wasmMaxPool2dForward } from './wasm/pool.js';
import {
  batchNormBackward as wasmBatchNormBackward,
  batchNormInferenceForward as wasmBatchNormInferenceForward,
  batchNormTrainForward as wasmBatchNormTrainForward,
} from './wasm/batchnorm.js';
import { activeWasm } from './kernel-mode.js';
import type { WasmKernels } from './wasm/module.js';
import { wasmBatchedGemm } from './wasm/gemm.js';
import { depthwiseConv2dBackwardInput, depthwiseConv2dBackwardWeight, depthwiseConv2dForward, isDepthwise } from './wasm/depthwise.js';
import { wasmConv2dBackwardInput, wasmConv2dBackwardWeight, wasmConv2dForward } from './wasm/conv.js';
import './kernels/optim.js'; // registers sgdUpdate and adamwUpdate

export { CpuBackend } from './cpu-backend.js';

type CpuKernel = (backend: CpuBackend, inputs: readonly KernelTensor[], attrs: KernelAttrs) => { values: TypedArray; shape: readonly number[] }[];

function cpu(name: string, fn: CpuKernel): void {
  registerKernel('cpu', name, (backend, inputs, attrs) => {
    const b = backend as CpuBackend;
    return fn(b, inputs, attrs).map((o) => b.output(o.values, o.shape));
  });
}

const v = valuesOf;
const f = (t: KernelTensor): FloatArray => valuesOf(t) as FloatArray;
const like = (t: KernelTensor, size: number): TypedArray => takeArray(t.dtype, size);
const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

cpu('binary', (_b, [a, c], attrs) => {
  const outShape = attrs.outShape as number[];
  const n = sizeOf(outShape);
  if (attrs.op === 'add' && n >= WASM_ADD_MIN_SIZE && sizeOf(a.shape) === n && sizeOf(c.shape) === n && !attrs.outDtype) {
    const wasm = wasmFor(a, c);
    if (wasm) return [{ values: wasmAdd(wasm, f32(a), f32(c)), shape: outShape }];
  }
  const dtype = (attrs.outDtype as DType | undefined) ?? a.dtype;
  const out = takeArray(dtype, sizeOf(outShape), false);
  binary(attrs.op as BinaryName, v(a), a.shape, v(c), c.shape, out, outShape);
  return [{ values: out, shape: outShape }];
});

/**
 * The WebAssembly kernels when they are selected and available (kernel-mode) and every given
 * input is float32, else null: float64 and the other dtypes stay on the reference kernels.
 */
function wasmFor(...inputs: (KernelTensor | undefined)[]): WasmKernels | null {
  for (const t of inputs) if (t && t.dtype !== 'float32') return null;
  return activeWasm();
}
const wasmF32 = (...inputs: (KernelTensor | undefined)[]): boolean => wasmFor(...inputs) !== null;
const f32 = (t: KernelTensor): Float32Array => valuesOf(t) as Float32Array;

// Activations: the WebAssembly kernels from WASM_ACTIVATION_MIN_SIZE[op] elements up (below,
// copying into and out of WebAssembly memory costs more than it saves); other unary ops and
// small tensors run the reference kernels.
cpu('unary', (_b, [x], attrs) => {
  const out = takeArray(x.dtype, sizeOf(x.shape), false);
  const op = attrs.op as UnaryName;
  if (useWasmActivation(op, out.length) && wasmF32(x)) activationForward(op, f32(x), out as Float32Array);
  else unary(op, v(x), out);
  return [{ values: out, shape: x.shape }];
});

cpu('unaryGrad', (_b, [x, dy], attrs) => {
  const out = takeArray(x.dtype, sizeOf(x.shape), false);
  const op = attrs.op as UnaryGradName;
  if (useWasmActivation(op, out.length) && wasmF32(x, dy)) activationBackward(op, f32(x), f32(dy), out as Float32Array);
  else unaryGrad(op, v(x), v(dy), out);
  return [{ values: out, shape: x.shape }];
});

cpu('layerNorm', (_b, inputs, attrs) => {
  const [x] = inputs;
  let next = 1;
  const weight = attrs.hasWeight ? inputs[next++] : null;
  const bias = attrs.hasBias ? inputs[next++] : null;
  const out = takeArray(x.dtype, sizeOf(x.shape), false) as FloatArray;
  layerNormForward(f(x), x.shape[x.shape.length - 1], weight ? f(weight) : null, bias ? f(bias) : null, attrs.eps as number, out);
  return [{ values: out, shape: x.shape }];
});

cpu('affine', (_b, [x], attrs) => {
  const out = like(x, sizeOf(x.shape));
  affine(v(x), attrs.scale as number, attrs.shift as number, out);
  return [{ values: out, shape: x.shape }];
});

cpu('reduce', (_b, [x], attrs) => {
  const [outer, reduced, inner] = attrs.block as [number, number, number];
  const out = like(x, outer * inner);
  reduceBlock(attrs.op as ReduceName, v(x), outer, reduced, inner, out);
  return [{ values: out, shape: attrs.outShape as number[] }];
});

cpu('argmax', (_b, [x], attrs) => {
  const [outer, n, inner] = attrs.block as [number, number, number];
  const out = new Int32Array(outer * inner);
  argmaxBlock(v(x), outer, n, inner, out);
  return [{ values: out, shape: attrs.outShape as number[] }];
});

cpu('softmax', (_b, [x], attrs) => {
  const [outer, n, inner] = attrs.block as [number, number, number];
  const out = like(x, sizeOf(x.shape));
  softmaxBlock(v(x), outer, n, inner, attrs.log as boolean, out);
  return [{ values: out, shape: x.shape }];
});

/**
 * Cross-entropy of logits [N, C] against class labels [N] (attrs.labels: `on` for the class,
 * `off` elsewhere, i.e. label smoothing) or a target distribution [N, C]: per-sample losses
 * -sum_j q_j (z_j - lse) and per-row stats [lse, sum_j q_j] for the backward.
 */
cpu('crossEntropy', (_b, [logits, target], attrs) => {
  const [N, C] = logits.shape;
  const z = v(logits);
  const t = v(target);
  const { labels, on, off } = attrs as { labels: boolean; on: number; off: number };
  const loss = like(logits, N);
  const stats = like(logits, 2 * N);
  for (let n = 0; n < N; n++) {
    const base = n * C;
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, z[base + j]);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp(z[base + j] - m);
    const lse = m + Math.log(s);
    let l = 0;
    let sumq = 0;
    if (labels) {
      const c = t[n];
      if (!(c >= 0 && c < C)) throw new Error(`crossEntropy: label ${c} at position ${n} is outside [0, ${C})`);
      for (let j = 0; j < C; j++) l -= (j === c ? on : off) * (z[base + j] - lse);
      sumq = on + (C - 1) * off;
    } else {
      for (let j = 0; j < C; j++) {
        l -= t[base + j] * (z[base + j] - lse);
        sumq += t[base + j];
      }
    }
    loss[n] = l;
    stats[2 * n] = lse;
    stats[2 * n + 1] = sumq;
  }
  return [{ values: loss, shape: [N] }, { values: stats, shape: [N, 2] }];
});

/** d loss / d logits = dy[n] * (softmax_j * sum_j q_j - q_j). */
cpu('crossEntropyBackward', (_b, [dy, logits, target, stats], attrs) => {
  const [N, C] = logits.shape;
  const z = v(logits);
  const t = v(target);
  const st = v(stats);
  const g = v(dy);
  const { labels, on, off } = attrs as { labels: boolean; on: number; off: number };
  const out = like(logits, N * C);
  for (let n = 0; n < N; n++) {
    const base = n * C;
    for (let j = 0; j < C; j++) {
      const q = labels ? (j === t[n] ? on : off) : t[base + j];
      out[base + j] = g[n] * (Math.exp(z[base + j] - st[2 * n]) * st[2 * n + 1] - q);
    }
  }
  return [{ values: out, shape: logits.shape }];
});

cpu('transpose', (_b, [x], attrs) => {
  const perm = attrs.perm as number[];
  const out = like(x, sizeOf(x.shape));
  transpose(v(x), x.shape, perm, out);
  return [{ values: out, shape: perm.map((p) => x.shape[p]) }];
});

cpu('slice', (_b, [x], attrs) => {
  const size = attrs.size as number[];
  const out = like(x, sizeOf(size));
  copyBox(v(x), out, x.shape, attrs.begin as number[], size, false);
  return [{ values: out, shape: size }];
});

cpu('pad', (_b, [x], attrs) => {
  const outShape = attrs.outShape as number[];
  const out = like(x, sizeOf(outShape));
  const value = (attrs.value as number | undefined) ?? 0;
  if (value !== 0) out.fill(value);
  copyBox(v(x), out, outShape, attrs.begin as number[], x.shape, true);
  return [{ values: out, shape: outShape }];
});

cpu('concat', (_b, inputs, attrs) => {
  const axis = attrs.axis as number;
  const outShape = [...inputs[0].shape];
  outShape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
  const out = like(inputs[0], sizeOf(outShape));
  concat(inputs.map(v), inputs.map((t) => t.shape), axis, out);
  return [{ values: out, shape: outShape }];
});

cpu('cast', (_b, [x], attrs) => {
  const src = x.dtype === 'float16' ? fromFloat16Bits(v(x) as Uint16Array) : v(x);
  if (attrs.dtype === 'float16') return [{ values: toFloat16Bits(src), shape: x.shape }];
  const out = allocTyped(attrs.dtype as DType, sizeOf(x.shape));
  if (attrs.dtype === 'int32' || attrs.dtype === 'uint8') for (let i = 0; i < src.length; i++) out[i] = Math.trunc(src[i]);
  else out.set(src);
  return [{ values: out, shape: x.shape }];
});

registerKernel('cpu', 'fill', (backend, _inputs, attrs) => {
  const shape = attrs.shape as number[];
  const out = allocTyped(attrs.dtype as DType, sizeOf(shape));
  if (attrs.value !== 0) out.fill(attrs.value as number);
  return [(backend as CpuBackend).output(out, shape)];
});

cpu('oneHot', (_b, [labels], attrs) => {
  const numClasses = attrs.numClasses as number;
  const on = attrs.on as number;
  const off = attrs.off as number;
  const l = v(labels);
  const out = allocTyped(attrs.dtype as DType, l.length * numClasses);
  if (off !== 0) out.fill(off);
  for (let i = 0; i < l.length; i++) {
    const c = l[i];
    if (!(c >= 0 && c < numClasses)) throw new Error(`oneHot: label ${c} at position ${i} is outside [0, ${numClasses})`);
    out[i * numClasses + c] = on;
  }
  return [{ values: out, shape: [...labels.shape, numClasses] }];
});

registerKernel('cpu', 'dropoutMask', (backend, _inputs, attrs) => {
  const shape = attrs.shape as number[];
  const p = attrs.p as number;
  const rng = new Rng(attrs.seed as number);
  const out = allocTyped(attrs.dtype as DType, sizeOf(shape));
  const scale = 1 / (1 - p);
  for (let i = 0; i < out.length; i++) out[i] = rng.next() >= p ? scale : 0;
  return [(backend as CpuBackend).output(out, shape)];
});


cpu('matmul', (_b, [a, c], attrs) => {
  const { batch, M, N, K, transA, transB } = attrs as { batch: number; M: number; N: number; K: number; transA: boolean; transB: boolean };
  const wasm = wasmFor(a, c);
  if (wasm) return [{ values: wasmBatchedGemm(wasm, batch, transA, transB, M, N, K, f32(a), f32(c)), shape: attrs.outShape as number[] }];
  const out = like(a, batch * M * N) as FloatArray;
  batchedGemm(batch, transA, transB, M, N, K, f(a), f(c), out);
  return [{ values: out, shape: attrs.outShape as number[] }];
});

// Convolutions: WebAssembly im2col + GEMM for float32 when the kernels are active, except
// depthwise convolutions, which go to their own kernels (the `depthwise` branches below).
cpu('conv2d', (_b, inputs, attrs) => {
  const p = attrs.params as Conv2dParams;
  const [x, w] = inputs;
  let next = 2;
  const bias = (attrs.hasBias ?? inputs.length > 2) ? inputs[next++] : undefined;
  const residual = attrs.hasResidual ? inputs[next++] : undefined;
  const activation = (attrs.activation as ActivationName | null | undefined) ?? null;
  const shape = conv2dOutputShape(p);
  const wasm = wasmFor(x, w, bias, residual);
  if (wasm) {
    const epilogue = { residual: residual ? f32(residual) : null, activation };
    const values = isDepthwise(p)
      ? depthwiseConv2dForward(f32(x), f32(w), bias ? f32(bias) : null, p, epilogue)
      : wasmConv2dForward(wasm, f32(x), f32(w), bias ? f32(bias) : null, p, epilogue);
    return [{ values, shape }];
  }
  const y = conv2dForward(f(x), f(w), bias ? f(bias) : null, p);
  if (residual) binary('add', y, shape, v(residual), residual.shape, y, shape);
  if (activation) unary(activation, y, y);
  return [{ values: y, shape }];
});

cpu('conv2dBackwardInput', (_b, [dy, w], attrs) => {
  const p = attrs.params as Conv2dParams;
  const wasm = wasmFor(dy, w);
  if (wasm && isDepthwise(p)) {
    return [{ values: depthwiseConv2dBackwardInput(f32(dy), f32(w), p), shape: p.inShape }];
  } else if (wasm) {
    return [{ values: wasmConv2dBackwardInput(wasm, f32(dy), f32(w), p), shape: p.inShape }];
  }
  return [{ values: conv2dBackwardInput(f(dy), f(w), p), shape: p.inShape }];
});

cpu('conv2dBackwardWeight', (_b, [x, dy], attrs) => {
  const p = attrs.params as Conv2dParams;
  const wasm = wasmFor(x, dy);
  if (wasm && isDepthwise(p)) {
    return [{ values: depthwiseConv2dBackwardWeight(f32(x), f32(dy), p), shape: p.weightShape }];
  } else if (wasm) {
    return [{ values: wasmConv2dBackwardWeight(wasm, f32(x), f32(dy), p), shape: p.weightShape }];
  }
  return [{ values: conv2dBackwardWeight(f(x), f(dy), p), shape: p.weightShape }];
});

// Pooling: the WebAssembly kernels for float32, except the max-pool backward pass, which stays
// on the reference kernel in every mode: it is a scatter of dy (a quarter of dx for 2x2 windows)
// into a freshly zeroed dx, and the WebAssembly version (src/backends/cpu/wasm/pool.ts,
// maxPool2dBackward) measured slower once dy and argmax are copied in and dx is copied out.
cpu('maxPool2d', (_b, [x], attrs) => {
  const p = attrs.params as Pool2dParams;
  const { y, argmax, shape } = wasmF32(x) ? wasmMaxPool2dForward(f32(x), p) : maxPool2dForward(f(x), p);
  return [{ values: y, shape }, { values: argmax, shape }];
});

cpu('maxPool2dBackward', (_b, [dy, argmax], attrs) => {
  const p = attrs.params as Pool2dParams;
  return [{ values: maxPool2dBackward(f(dy), v(argmax) as Int32Array, p), shape: p.inShape }];
});

cpu('avgPool2d', (_b, [x], attrs) => {
  const p = attrs.params as Pool2dParams;
  const { y, shape } = wasmF32(x) ? wasmAvgPool2dForward(f32(x), p) : avgPool2dForward(f(x), p);
  return [{ values: y, shape }];
});

cpu('avgPool2dBackward', (_b, [dy], attrs) => {
  const p = attrs.params as Pool2dParams;
  return [{ values: wasmF32(dy) ? wasmAvgPool2dBackward(f32(dy), p) : avgPool2dBackward(f(dy), p), shape: p.inShape }];
});

/**
 * Batch norm runs the WebAssembly kernels for float32 from BN_WASM_MIN_SIZE elements up and
 * with at least 2 elements per (sample, channel) segment: for [N, C] inputs (BatchNorm1d) and
 * tiny tensors they measured no faster than the reference.
 */
const BN_WASM_MIN_SIZE = 1024;
function bnWasm(x: KernelTensor, ...others: (KernelTensor | undefined)[]): boolean {
  const size = sizeOf(x.shape);
  return size >= BN_WASM_MIN_SIZE && size / (x.shape[0] * x.shape[1]) >= 2 && wasmF32(x, ...others);
}

/** The activation fused after batch norm in training (relu or relu6: their derivative follows from the output), or null. */
const bnActivation = (attrs: KernelAttrs): 'relu' | 'relu6' | null => (attrs.activation as 'relu' | 'relu6' | null | undefined) ?? null;

/** Inputs [x, gamma?, beta?] and, with attrs.hasResidual, the residual last: y = activation(bn(x) + residual). */
cpu('batchNormTrain', (_b, inputs, attrs) => {
  const residual = attrs.hasResidual ? inputs[inputs.length - 1] : undefined;
  const [x, gamma, beta] = residual ? inputs.slice(0, -1) : inputs;
  const C = x.shape[1];
  const r = bnWasm(x, gamma, beta)
    ? wasmBatchNormTrainForward(f32(x), x.shape, gamma ? f32(gamma) : null, beta ? f32(beta) : null, attrs.eps as number)
    : batchNormTrainForward(f(x), x.shape, gamma ? f(gamma) : null, beta ? f(beta) : null, attrs.eps as number);
  if (residual) {
    const res = v(residual);
    for (let i = 0; i < r.y.length; i++) r.y[i] += res[i];
  }
  const act = bnActivation(attrs);
  if (act) {
    if (useWasmActivation(act, r.y.length) && r.y instanceof Float32Array && wasmF32(x)) activationForward(act, r.y, r.y);
    else unary(act, r.y, r.y);
  }
  return [
    { values: r.y, shape: x.shape },
    { values: r.mean, shape: [C] },
    { values: r.invStd, shape: [C] },
    { values: r.varUnbiased, shape: [C] },
  ];
});

cpu('batchNormInference', (_b, [x, mean, variance, gamma, beta], attrs) => {
  const y = bnWasm(x, mean, variance, gamma, beta)
    ? wasmBatchNormInferenceForward(f32(x), x.shape, f32(mean), f32(variance), gamma ? f32(gamma) : null, beta ? f32(beta) : null, attrs.eps as number)
    : batchNormInferenceForward(f(x), x.shape, f(mean), f(variance), gamma ? f(gamma) : null, beta ? f(beta) : null, attrs.eps as number);
  return [{ values: y, shape: x.shape }];
});

cpu('batchNormRunningUpdate', (_b, [runningMean, runningVar, mean, varUnbiased, count], attrs) => {
  // PyTorch's running_stat = (1 - momentum) * running_stat + momentum * batch_stat.
  const m = attrs.momentum as number;
  const blend = (running: KernelTensor, batch: KernelTensor): TypedArray => {
    const r = v(running);
    const s = v(batch);
    const out = like(running, r.length);
    for (let i = 0; i < r.length; i++) out[i] = r[i] * (1 - m) + s[i] * m;
    return out;
  };
  const out = [
    { values: blend(runningMean, mean), shape: runningMean.shape },
    { values: blend(runningVar, varUnbiased), shape: runningVar.shape },
  ];
  if (count) out.push({ values: Int32Array.of(v(count)[0] + 1), shape: count.shape });
  return out;
});

/**
 * Inputs [dy, x, mean, invStd, gamma?] and, with attrs.activation, the activated output y last
 * (dy is taken through the activation first). With attrs.hasResidual a fourth output is the
 * residual's gradient (dy through the activation).
 */
cpu('batchNormBackward', (_b, inputs, attrs) => {
  const act = bnActivation(attrs);
  const [dyOut, x, mean, invStd] = inputs;
  const gamma = inputs.length === (act ? 6 : 5) ? inputs[4] : undefined;
  let dy = v(dyOut);
  if (act) {
    const y = inputs[inputs.length - 1];
    const g = takeArray(dyOut.dtype, dy.length, false);
    if (useWasmActivation(act, dy.length) && wasmF32(y, dyOut)) activationBackward(act, f32(y), f32(dyOut), g as Float32Array);
    else unaryGrad(act, v(y), dy, g);
    dy = g;
  }
  const C = x.shape[1];
  const r = bnWasm(x, dyOut, mean, invStd, gamma) && dy instanceof Float32Array
    ? wasmBatchNormBackward(dy, f32(x), x.shape, f32(mean), f32(invStd), gamma ? f32(gamma) : null)
    : batchNormBackward(dy as FloatArray, f(x), x.shape, f(mean), f(invStd), gamma ? f(gamma) : null);
  const out: { values: TypedArray; shape: readonly number[] }[] = [
    { values: r.dx, shape: x.shape },
    { values: r.dgamma, shape: [C] },
    { values: r.dbeta, shape: [C] },
  ];
  if (attrs.hasResidual) out.push({ values: act ? dy : dy.slice(), shape: x.shape });
  else if (act) giveArray(dy); // the masked dy was a temporary
  return out;
});

/**
 * Mixed precision: float16 operands of the products are widened to float32 and the float32
 * kernel runs, as the GPU's float16 kernels do in registers (the reference twin for them).
 */
for (const name of ['conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight', 'matmul']) {
  const float32Kernel = getKernel('cpu', name);
  registerKernel('cpu', name, (backend, inputs, attrs) => {
    if (!inputs.some((t) => t.dtype === 'float16')) return float32Kernel(backend, inputs, attrs);
    const widened = inputs.map((t) => (t.dtype === 'float16' ? { storage: backend.upload(fromFloat16Bits(v(t) as Uint16Array)), shape: t.shape, dtype: 'float32' as const } : t));
    try {
      return float32Kernel(backend, widened, attrs);
    } finally {
      widened.forEach((t, i) => t !== inputs[i] && backend.free(t.storage));
    }
  });
}

ENGINE.registerBackend('cpu', () => new CpuBackend());
