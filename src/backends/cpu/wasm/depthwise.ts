/**
 * Depthwise 2-D convolution (groups == inChannels, one input channel per group, any channel
 * multiplier) on the WebAssembly SIMD kernels (assembly/depthwise.ts). Same signatures and
 * results (to float32 rounding) as the reference `conv2dForward` / `conv2dBackwardInput` /
 * `conv2dBackwardWeight` for depthwise geometries; where the WebAssembly kernels are unavailable
 * the reference kernels run instead.
 */
import { applyEpilogue, hasEpilogue, type ConvEpilogue } from './epilogue.js';
import { finishOutput, outputSlot } from './arena.js';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2dOutputShape } from '../kernels/conv2d.js';
import type { Conv2dParams } from '../kernels/types.js';
import { kernelsWith, type WasmKernels } from './module.js';
import { runSplit } from './split.js';

/** Multiply-adds from which a depthwise forward is split over the thread pool. */
const DW_THREAD_MIN_WORK = 2 ** 19;

interface DepthwiseExports {
  dw_conv_fwd_scratch(kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, outH: number, outW: number): number;
  dw_conv_bwd_weight_scratch(c: number, mult: number, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, outH: number, outW: number): number;
  dw_conv_bwd_input_scratch(h: number, w: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, dh: number, dw: number, outH: number, outW: number): number;
  dw_conv_bwd_weight(x: number, dy: number, dw: number, scratch: number, ...geometry: number[]): void;
  dw_conv_bwd_input(dy: number, w: number, dx: number, scratch: number, ...geometry: number[]): void;
}

/** Whether p is a depthwise convolution: groups == inChannels, one input channel per group (any channel multiplier). */
export function isDepthwise(p: Conv2dParams): boolean {
  const c = p.inShape[1];
  return p.groups === c && p.weightShape[1] === 1 && p.weightShape[0] % c === 0;
}

interface Geometry {
  n: number;
  c: number;
  mult: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  outH: number;
  outW: number;
  /** The trailing kernel arguments, in order: n, c, mult, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW. */
  args: number[];
}

function geometry(p: Conv2dParams): Geometry {
  if (!isDepthwise(p)) throw new Error('depthwiseConv2d: not a depthwise geometry (groups must equal inChannels, weight [C * mult, 1, kH, kW])');
  const [, , outH, outW] = conv2dOutputShape(p); // validates the geometry
  const [n, c, h, w] = p.inShape;
  const [o, , kh, kw] = p.weightShape;
  const mult = o / c;
  const args = [n, c, mult, h, w, kh, kw, p.stride[0], p.stride[1], p.padding[0], p.padding[1], p.dilation[0], p.dilation[1], outH, outW];
  return { n, c, mult, h, w, kh, kw, outH, outW, args };
}

function check(name: string, a: Float32Array, expected: number): Float32Array {
  if (a.length < expected) throw new Error(`depthwiseConv2d: ${name} has ${a.length} elements, expected ${expected}`);
  return a.length === expected ? a : a.subarray(0, expected);
}


const kernels = (): { k: WasmKernels; ex: DepthwiseExports } | null => kernelsWith<DepthwiseExports>();

/** y = depthwise conv(x, w) + bias, then the epilogue (residual, activation) in place (reference: conv2dForward). */
export function depthwiseConv2dForward(x: Float32Array, w: Float32Array, bias: Float32Array | null, p: Conv2dParams, epilogue?: ConvEpilogue): Float32Array {
  const g = geometry(p);
  const wk = kernels();
  if (!wk) throw new Error('depthwiseConv2dForward: the WebAssembly kernels are unavailable');
  const { k, ex } = wk;
  const o = g.c * g.mult;
  const ySize = g.n * o * g.outH * g.outW;
  const a = k.arena;
  a.reset();
  const xa = a.copyIn(check('x', x, g.n * g.c * g.h * g.w));
  const wa = a.copyIn(check('weight', w, o * g.kh * g.kw));
  const ba = bias ? a.copyIn(check('bias', bias, o)) : 0;
  const y = outputSlot(a, 'float32', ySize);
  const ya = y.address;
  const scratchBytes = ex.dw_conv_fwd_scratch(g.kh, g.kw, p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], g.outH, g.outW);
  // Input planes (image x channel) split over the pool, each task with its own scratch; the
  // geometry goes in a descriptor (a task carries at most 14 arguments).
  const desc = a.alloc(19 * 4);
  a.i32(desc, 19).set([xa, wa, ba, ya, ...g.args]);
  runSplit(k, g.n * g.c, 1, ySize * g.kh * g.kw >= DW_THREAD_MIN_WORK, (p0, p1) => ({ fn: 'dw_conv_fwd_planes', args: [desc, p0, p1, a.alloc(scratchBytes)] }));
  if (hasEpilogue(epilogue)) applyEpilogue(k, ya, ySize, epilogue);
  return finishOutput(a, y);
}

/** dx = the input gradient of the depthwise convolution given dy (reference: conv2dBackwardInput). */
export function depthwiseConv2dBackwardInput(dy: Float32Array, w: Float32Array, p: Conv2dParams): Float32Array {
  const g = geometry(p);
  const wk = kernels();
  if (!wk) return conv2dBackwardInput(dy, w, p) as Float32Array;
  const { k, ex } = wk;
  const o = g.c * g.mult;
  const dxSize = g.n * g.c * g.h * g.w;
  const a = k.arena;
  a.reset();
  const dya = a.copyIn(check('dy', dy, g.n * o * g.outH * g.outW));
  const wa = a.copyIn(check('weight', w, o * g.kh * g.kw));
  const dx = outputSlot(a, 'float32', dxSize);
  const dxa = dx.address;
  const sa = a.alloc(ex.dw_conv_bwd_input_scratch(g.h, g.w, g.kh, g.kw, p.stride[0], p.stride[1], p.padding[0], p.padding[1], p.dilation[0], p.dilation[1], g.outH, g.outW));
  ex.dw_conv_bwd_input(dya, wa, dxa, sa, ...g.args);
  return finishOutput(a, dx);
}

/** dw = the weight gradient of the depthwise convolution, summed over the batch (reference: conv2dBackwardWeight). */
export function depthwiseConv2dBackwardWeight(x: Float32Array, dy: Float32Array, p: Conv2dParams): Float32Array {
  const g = geometry(p);
  const wk = kernels();
  if (!wk) return conv2dBackwardWeight(x, dy, p) as Float32Array;
  const { k, ex } = wk;
  const o = g.c * g.mult;
  const dwSize = o * g.kh * g.kw;
  const a = k.arena;
  a.reset();
  const xa = a.copyIn(check('x', x, g.n * g.c * g.h * g.w));
  const dya = a.copyIn(check('dy', dy, g.n * o * g.outH * g.outW));
  const dwOut = outputSlot(a, 'float32', dwSize);
  const dwa = dwOut.address;
  const sa = a.alloc(ex.dw_conv_bwd_weight_scratch(g.c, g.mult, g.kh, g.kw, p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], g.outH, g.outW));
  ex.dw_conv_bwd_weight(xa, dya, dwa, sa, ...g.args);
  return finishOutput(a, dwOut);
}
