import { registerKernel, type KernelAttrs } from '../registry.js';
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
const like = (t: KernelTensor, size: number): TypedArray => allocTyped(t.dtype, size);
const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

cpu('binary', (_b, [a, c], attrs) => {
  const outShape = attrs.outShape as number[];
  const dtype = (attrs.outDtype as DType | undefined) ?? a.dtype;
  const out = allocTyped(dtype, sizeOf(outShape));
  binary(attrs.op as BinaryName, v(a), a.shape, v(c), c.shape, out, outShape);
  return [{ values: out, shape: outShape }];
});

cpu('unary', (_b, [x], attrs) => {
  const out = like(x, sizeOf(x.shape));
  unary(attrs.op as UnaryName, v(x), out);
  return [{ values: out, shape: x.shape }];
});

cpu('unaryGrad', (_b, [x, dy], attrs) => {
  const out = like(x, sizeOf(x.shape));
  unaryGrad(attrs.op as UnaryGradName, v(x), v(dy), out);
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
  const out = allocTyped(attrs.dtype as DType, sizeOf(x.shape));
  const src = v(x);
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
  const out = like(a, batch * M * N) as FloatArray;
  batchedGemm(batch, transA, transB, M, N, K, f(a), f(c), out);
  return [{ values: out, shape: attrs.outShape as number[] }];
});

cpu('conv2d', (_b, [x, w, bias], attrs) => {
  const p = attrs.params as Conv2dParams;
  return [{ values: conv2dForward(f(x), f(w), bias ? f(bias) : null, p), shape: conv2dOutputShape(p) }];
});

cpu('conv2dBackwardInput', (_b, [dy, w], attrs) => {
  const p = attrs.params as Conv2dParams;
  return [{ values: conv2dBackwardInput(f(dy), f(w), p), shape: p.inShape }];
});

cpu('conv2dBackwardWeight', (_b, [x, dy], attrs) => {
  const p = attrs.params as Conv2dParams;
  return [{ values: conv2dBackwardWeight(f(x), f(dy), p), shape: p.weightShape }];
});

cpu('maxPool2d', (_b, [x], attrs) => {
  const { y, argmax, shape } = maxPool2dForward(f(x), attrs.params as Pool2dParams);
  return [{ values: y, shape }, { values: argmax, shape }];
});

cpu('maxPool2dBackward', (_b, [dy, argmax], attrs) => {
  const p = attrs.params as Pool2dParams;
  return [{ values: maxPool2dBackward(f(dy), v(argmax) as Int32Array, p), shape: p.inShape }];
});

cpu('avgPool2d', (_b, [x], attrs) => {
  const { y, shape } = avgPool2dForward(f(x), attrs.params as Pool2dParams);
  return [{ values: y, shape }];
});

cpu('avgPool2dBackward', (_b, [dy], attrs) => {
  const p = attrs.params as Pool2dParams;
  return [{ values: avgPool2dBackward(f(dy), p), shape: p.inShape }];
});

cpu('batchNormTrain', (_b, [x, gamma, beta], attrs) => {
  const C = x.shape[1];
  const r = batchNormTrainForward(f(x), x.shape, gamma ? f(gamma) : null, beta ? f(beta) : null, attrs.eps as number);
  return [
    { values: r.y, shape: x.shape },
    { values: r.mean, shape: [C] },
    { values: r.invStd, shape: [C] },
    { values: r.varUnbiased, shape: [C] },
  ];
});

cpu('batchNormInference', (_b, [x, mean, variance, gamma, beta], attrs) => {
  const y = batchNormInferenceForward(f(x), x.shape, f(mean), f(variance), gamma ? f(gamma) : null, beta ? f(beta) : null, attrs.eps as number);
  return [{ values: y, shape: x.shape }];
});

cpu('batchNormBackward', (_b, [dy, x, mean, invStd, gamma]) => {
  const C = x.shape[1];
  const r = batchNormBackward(f(dy), f(x), x.shape, f(mean), f(invStd), gamma ? f(gamma) : null);
  return [
    { values: r.dx, shape: x.shape },
    { values: r.dgamma, shape: [C] },
    { values: r.dbeta, shape: [C] },
  ];
});

ENGINE.registerBackend('cpu', () => new CpuBackend());
