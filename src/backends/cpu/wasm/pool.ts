/**
 * 2-D max and average pooling on the WebAssembly SIMD kernels (assembly/pool.ts): same
 * signatures and results as the reference kernels in ../kernels/pool2d.ts (max pooling and its
 * argmax bit for bit; average pooling to float32 rounding). Where the WebAssembly kernels are
 * unavailable the reference kernels run instead.
 */
import { runSplit } from './split.js';
import {
  avgPool2dBackward as refAvgPool2dBackward,
  avgPool2dForward as refAvgPool2dForward,
  maxPool2dBackward as refMaxPool2dBackward,
  maxPool2dForward as refMaxPool2dForward,
  pool2dOutputShape,
} from '../kernels/pool2d.js';
import type { Pool2dParams } from '../kernels/types.js';
import { kernelsWith, type WasmKernels } from './module.js';
import { finishOutput, outputSlot } from './arena.js';

interface PoolExports {
  maxpool_fwd_scratch(kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, outH: number, outW: number): number;
  avgpool_fwd_scratch(kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, outH: number, outW: number): number;
  avgpool_bwd_scratch(h: number, w: number, kh: number, kw: number, dh: number, dw: number, outH: number, outW: number): number;
  maxpool_bwd(dy: number, argmax: number, dx: number, planes: number, h: number, w: number, outH: number, outW: number, pairs: number): void;
  avgpool_fwd(x: number, y: number, scratch: number, ...geometryAndCountIncludePad: number[]): void;
  avgpool_bwd(dy: number, dx: number, scratch: number, ...geometryAndCountIncludePad: number[]): void;
}

type Shape4 = [number, number, number, number];

interface Geometry {
  shape: Shape4;
  planes: number;
  inPlane: number;
  outPlane: number;
  /** n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW */
  args: number[];
}

function geometry(p: Pool2dParams): Geometry {
  const shape = pool2dOutputShape(p); // validates the geometry
  const [n, c, h, w] = p.inShape;
  const [, , outH, outW] = shape;
  return {
    shape,
    planes: n * c,
    inPlane: h * w,
    outPlane: outH * outW,
    args: [n, c, h, w, p.kernel[0], p.kernel[1], p.stride[0], p.stride[1], p.padding[0], p.padding[1], p.dilation[0], p.dilation[1], outH, outW],
  };
}



const kernels = (): { k: WasmKernels; ex: PoolExports } | null => kernelsWith<PoolExports>();

/** Window reads (output size x window) from which max pooling is split over the thread pool. */
const THREAD_MIN_WORK = 2 ** 18;

function exact<T extends Float32Array | Int32Array>(name: string, a: T, expected: number): T {
  if (a.length < expected) throw new Error(`pool2d: ${name} has ${a.length} elements, expected ${expected}`);
  return (a.length === expected ? a : a.subarray(0, expected)) as T;
}

/** Max pooling with argmax (reference: maxPool2dForward; identical results). */
export function maxPool2dForward(x: Float32Array, p: Pool2dParams): { y: Float32Array; argmax: Int32Array; shape: Shape4 } {
  const wk = kernels();
  if (!wk) return refMaxPool2dForward(x, p) as { y: Float32Array; argmax: Int32Array; shape: Shape4 };
  const { k, ex } = wk;
  const g = geometry(p);
  const size = g.planes * g.outPlane;
  const a = k.arena;
  a.reset();
  const xa = a.copyIn(exact('x', x, g.planes * g.inPlane));
  const y = outputSlot(a, 'float32', size);
  const argmax = outputSlot(a, 'int32', size);
  const [, , , , kh, kw, sh, sw, , , dh, dw, outH, outW] = g.args;
  const scratchBytes = ex.maxpool_fwd_scratch(kh, kw, sh, sw, dh, dw, outH, outW);
  // Planes split over the pool, each task with its own scratch (geometry in a descriptor).
  const desc = a.alloc(17 * 4);
  a.i32(desc, 17).set([xa, y.address, argmax.address, ...g.args]);
  runSplit(k, g.planes, 1, size * kh * kw >= THREAD_MIN_WORK, (p0, p1) => ({ fn: 'maxpool_fwd_planes', args: [desc, p0, p1, a.alloc(scratchBytes)] }));
  return { y: finishOutput(a, y), argmax: finishOutput(a, argmax), shape: g.shape };
}

/** Routes dy to the argmax elements (reference: maxPool2dBackward). */
export function maxPool2dBackward(dy: Float32Array, argmax: Int32Array, p: Pool2dParams): Float32Array {
  const wk = kernels();
  if (!wk) return refMaxPool2dBackward(dy, argmax, p) as Float32Array;
  const { k, ex } = wk;
  const g = geometry(p);
  const outSize = g.planes * g.outPlane;
  const inSize = g.planes * g.inPlane;
  const a = k.arena;
  a.reset();
  const dya = a.copyIn(exact('dy', dy, outSize));
  const ia = a.copyIn(exact('argmax', argmax, outSize));
  const dx = outputSlot(a, 'float32', inSize);
  const [, , h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW] = g.args;
  // 2x2 windows, stride 2, no padding/dilation: the vectorised gather path
  const pairs = kh === 2 && kw === 2 && sh === 2 && sw === 2 && ph === 0 && pw === 0 && dh === 1 && dw === 1;
  ex.maxpool_bwd(dya, ia, dx.address, g.planes, h, w, outH, outW, pairs ? 1 : 0);
  return finishOutput(a, dx);
}

/** Average pooling (reference: avgPool2dForward). */
export function avgPool2dForward(x: Float32Array, p: Pool2dParams): { y: Float32Array; shape: Shape4 } {
  const wk = kernels();
  if (!wk) return refAvgPool2dForward(x, p) as { y: Float32Array; shape: Shape4 };
  const { k, ex } = wk;
  const g = geometry(p);
  const size = g.planes * g.outPlane;
  const a = k.arena;
  a.reset();
  const xa = a.copyIn(exact('x', x, g.planes * g.inPlane));
  const y = outputSlot(a, 'float32', size);
  const [, , , , kh, kw, sh, sw, , , dh, dw, outH, outW] = g.args;
  const sa = a.alloc(ex.avgpool_fwd_scratch(kh, kw, sh, sw, dh, dw, outH, outW));
  ex.avgpool_fwd(xa, y.address, sa, ...g.args, p.countIncludePad ? 1 : 0);
  return { y: finishOutput(a, y), shape: g.shape };
}

/** The adjoint of average pooling (reference: avgPool2dBackward). */
export function avgPool2dBackward(dy: Float32Array, p: Pool2dParams): Float32Array {
  const wk = kernels();
  if (!wk) return refAvgPool2dBackward(dy, p) as Float32Array;
  const { k, ex } = wk;
  const g = geometry(p);
  const inSize = g.planes * g.inPlane;
  const a = k.arena;
  a.reset();
  const dya = a.copyIn(exact('dy', dy, g.planes * g.outPlane));
  const dx = outputSlot(a, 'float32', inSize);
  const [, , h, w, kh, kw, , , , , dh, dw, outH, outW] = g.args;
  const sa = a.alloc(ex.avgpool_bwd_scratch(h, w, kh, kw, dh, dw, outH, outW));
  ex.avgpool_bwd(dya, dx.address, sa, ...g.args, p.countIncludePad ? 1 : 0);
  return finishOutput(a, dx);
}
