/**
 * 2-D convolution (NCHW, PyTorch semantics): forward as an implicit GEMM per group with the
 * bias / residual / activation epilogue, both backward products as implicit GEMMs in gather
 * form (no atomics, deterministic), and direct kernels for depthwise convolutions, whose
 * one-channel groups would fill a 64 x 64 GEMM tile with a single row.
 */
import type { KernelTensor } from '../../backend.js';
import type { KernelAttrs } from '../../registry.js';
import { outputSize, type Conv2dParams } from '../../cpu/kernels/types.js';
import { FLAT_INDEX, MAIN_1D, grid1d, type WgslScalar } from '../program.js';
import { TILE, gemmProgram } from './gemm.js';
import { MATH_WGSL, unaryExpr } from './math.js';
import { gpuKernel, storageOf } from './util.js';
import { halfSuffix, operand, productDtype } from './half.js';
import type { WebGPUStorage } from '../backend.js';

interface Geometry {
  n: number; c: number; h: number; w: number; o: number;
  cg: number; og: number; groups: number;
  kh: number; kw: number; outH: number; outW: number;
}

function geometry(p: Conv2dParams): Geometry {
  const [n, c, h, w] = p.inShape;
  const [o, cg, kh, kw] = p.weightShape;
  const outH = outputSize(h, kh, p.stride[0], p.padding[0], p.dilation[0]);
  const outW = outputSize(w, kw, p.stride[1], p.padding[1], p.dilation[1]);
  return { n, c, h, w, o, cg, og: o / p.groups, groups: p.groups, kh, kw, outH, outW };
}

/** The geometry as uniforms (signed where the addressing subtracts padding). */
function geometryUniforms(g: Geometry, p: Conv2dParams): [string, WgslScalar, number][] {
  return [
    ['C', 'u32', g.c], ['H', 'i32', g.h], ['W', 'i32', g.w], ['O', 'u32', g.o],
    ['cg', 'u32', g.cg], ['og', 'u32', g.og], ['kh', 'u32', g.kh], ['kw', 'u32', g.kw],
    ['outH', 'i32', g.outH], ['outW', 'i32', g.outW],
    ['sh', 'i32', p.stride[0]], ['sw', 'i32', p.stride[1]], ['ph', 'i32', p.padding[0]], ['pw', 'i32', p.padding[1]],
    ['dh', 'i32', p.dilation[0]], ['dw', 'i32', p.dilation[1]],
  ];
}

/**
 * WGSL reading input element (image n, channel `channel`, kernel tap ki/kj, output position
 * oh/ow) of X, 0 in the padding: the im2col matrix without materialising it.
 */
const IM2COL_WGSL = `
fn inputTap(n: u32, channel: u32, ki: u32, kj: u32, oh: i32, ow: i32) -> f32 {
  let ih = oh * P.sh - P.ph + i32(ki) * P.dh;
  let iw = ow * P.sw - P.pw + i32(kj) * P.dw;
  if (ih < 0 || ih >= P.H || iw < 0 || iw >= P.W) { return 0.0; }
  return ldX(((n * P.C + channel) * u32(P.H) + u32(ih)) * u32(P.W) + u32(iw));
}`;

/** Inputs and WGSL of the forward epilogue: y = activation(acc + bias[o] + residual[index]). */
function epilogue(attrs: KernelAttrs, inputs: readonly KernelTensor[]) {
  let next = 2;
  const bias = (attrs.hasBias ?? inputs.length > 2) ? inputs[next++] : undefined;
  const residual = attrs.hasResidual ? inputs[next++] : undefined;
  const activation = (attrs.activation as string | null | undefined) ?? null;
  const bindings: [string, WgslScalar][] = [];
  const storages: WebGPUStorage[] = [];
  if (bias) bindings.push(['BIAS', 'f32']), storages.push(storageOf(bias));
  if (residual) bindings.push(['RES', 'f32']), storages.push(storageOf(residual));
  const lines = ['var x = acc;'];
  if (bias) lines.push('x += BIAS[o];');
  if (residual) lines.push('x += RES[index];');
  if (activation) lines.push(`x = ${unaryExpr(activation)};`);
  const code = `
fn epilogue(acc: f32, o: u32, index: u32) -> f32 { ${lines.join(' ')} return x; }`;
  return { bindings, storages, code, shared: activation ? [MATH_WGSL] : [], key: `${bias ? 'b' : ''}${residual ? 'r' : ''}${activation ?? ''}` };
}

const REDUCE_THREADS = 256;
const MAX_WORKGROUPS_PER_DIM = 65535;

/** `count` workgroups folded into x and y (at most 65535 per dimension). */
function workgroupGrid(count: number): number[] {
  if (count <= MAX_WORKGROUPS_PER_DIM) return [count, 1, 1];
  const y = Math.ceil(count / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(count / y), y, 1];
}

/**
 * K slices for a GEMM whose M x N tiles alone would leave a GPU idle (weight gradients: small
 * M x N, K = batch x output pixels): enough slices for about 256 workgroups, each with at least
 * 512 values of K, at most 64 slices.
 */
function splitCount(M: number, N: number, K: number, batch: number): number {
  const tiles = Math.ceil(M / TILE) * Math.ceil(N / TILE) * batch;
  return Math.max(1, Math.min(64, Math.ceil(256 / tiles), Math.floor(K / 512)));
}

const isDepthwise = (g: Geometry): boolean => g.groups === g.c && g.cg === 1 && g.groups > 1;

gpuKernel('conv2d', (b, inputs, attrs) => {
  const p = attrs.params as Conv2dParams;
  const [x, w] = inputs;
  const xIn = operand('X', x.dtype, 'conv2d');
  const wIn = operand('WT', w.dtype, 'conv2d');
  const g = geometry(p);
  const out = b.output([g.n, g.o, g.outH, g.outW], productDtype(x.dtype));
  const ep = epilogue(attrs, inputs);
  const uniforms = geometryUniforms(g, p);
  const io = {
    inputs: [xIn.binding, wIn.binding, ...ep.bindings] as [string, WgslScalar][],
    outputs: [['Y', 'f32']] as [string, WgslScalar][],
  };
  const loads = `${xIn.code}\n${wIn.code}`;
  const half = halfSuffix(x.dtype, w.dtype);
  const storages = [storageOf(x), storageOf(w), ...ep.storages];
  if (isDepthwise(g)) {
    const total = g.n * g.o * g.outH * g.outW;
    b.run(
      {
        name: `depthwise_conv2d${half}_${ep.key}`,
        ...io,
        shared: ep.shared,
        uniforms: [['total', 'u32', total], ...uniforms],
        code: `${loads}\n${IM2COL_WGSL}\n${ep.code}\n${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let plane = u32(P.outH * P.outW);
  let p = i % plane;
  let o = (i / plane) % P.O;
  let n = i / (plane * P.O);
  let oh = i32(p) / P.outW;
  let ow = i32(p) % P.outW;
  let channel = o / P.og;
  var acc = 0.0;
  for (var ki = 0u; ki < P.kh; ki++) {
    for (var kj = 0u; kj < P.kw; kj++) {
      acc = fma(ldWT((o * P.kh + ki) * P.kw + kj), inputTap(n, channel, ki, kj, oh, ow), acc);
    }
  }
  Y[i] = epilogue(acc, o, i);
}`,
        workgroups: grid1d(total),
      },
      storages,
      [out.storage],
    );
    return [out];
  }
  const taps = g.kh * g.kw;
  // 1x1, stride 1, no padding: the input planes are the column matrix itself, no tap arithmetic.
  const pointwise = taps === 1 && p.stride[0] === 1 && p.stride[1] === 1 && p.padding[0] === 0 && p.padding[1] === 0;
  const loadB = pointwise
    ? `fn loadB(group: u32, k: u32, col: u32) -> f32 {
  let plane = u32(P.H * P.W);
  return ldX(((col / plane) * P.C + group * P.cg + k) * plane + col % plane);
}`
    : `fn loadB(group: u32, k: u32, col: u32) -> f32 {
  let taps = P.kh * P.kw;
  let plane = u32(P.outH * P.outW);
  let p = col % plane;
  let r = k % taps;
  return inputTap(col / plane, group * P.cg + k / taps, r / P.kw, r % P.kw, i32(p) / P.outW, i32(p) % P.outW);
}`;
  b.run(
    gemmProgram({
      name: `conv2d${pointwise ? '_pointwise' : ''}${half}_${ep.key}`,
      ...io,
      shared: ep.shared,
      uniforms,
      M: g.og,
      N: g.n * g.outH * g.outW,
      K: g.cg * taps,
      batch: g.groups,
      code: `${loads}\n${IM2COL_WGSL}\n${ep.code}
fn loadA(group: u32, m: u32, k: u32) -> f32 { return ldWT((group * P.og + m) * P.K + k); }
${loadB}
fn store(group: u32, m: u32, col: u32, v: f32) {
  let plane = u32(P.outH * P.outW);
  let o = group * P.og + m;
  let index = ((col / plane) * P.O + o) * plane + col % plane;
  Y[index] = epilogue(v, o, index);
}`,
    }),
    storages,
    [out.storage],
  );
  return [out];
});

gpuKernel('conv2dBackwardInput', (b, [dy, w], attrs) => {
  const p = attrs.params as Conv2dParams;
  const g = geometry(p);
  const out = b.output(p.inShape, productDtype(dy.dtype));
  const dyIn = operand('DY', dy.dtype, 'conv2dBackwardInput');
  const wIn = operand('WT', w.dtype, 'conv2dBackwardInput');
  const half = halfSuffix(w.dtype);
  if (isDepthwise(g)) {
    const total = g.n * g.c * g.h * g.w;
    b.run(
      {
        name: `depthwise_conv2dBackwardInput${half}`,
        inputs: [dyIn.binding, wIn.binding],
        outputs: [['DX', 'f32']],
        uniforms: [['total', 'u32', total], ...geometryUniforms(g, p)],
        code: `${dyIn.code}\n${wIn.code}\n${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let plane = u32(P.H * P.W);
  let q = i32(i % plane);
  let ih = q / P.W;
  let iw = q % P.W;
  let c = (i / plane) % P.C;
  let n = i / (plane * P.C);
  var acc = 0.0;
  for (var m = 0u; m < P.og; m++) {
    let o = c * P.og + m;
    let dyBase = (n * P.O + o) * u32(P.outH * P.outW);
    for (var ki = 0u; ki < P.kh; ki++) {
      let th = ih + P.ph - i32(ki) * P.dh;
      if (th < 0 || th % P.sh != 0 || th / P.sh >= P.outH) { continue; }
      for (var kj = 0u; kj < P.kw; kj++) {
        let tw = iw + P.pw - i32(kj) * P.dw;
        if (tw < 0 || tw % P.sw != 0 || tw / P.sw >= P.outW) { continue; }
        acc = fma(ldWT((o * P.kh + ki) * P.kw + kj), ldDY(dyBase + u32((th / P.sh) * P.outW + tw / P.sw)), acc);
      }
    }
  }
  DX[i] = acc;
}`,
        workgroups: grid1d(total),
      },
      [storageOf(dy), storageOf(w)],
      [out.storage],
    );
    return [out];
  }
  const taps = g.kh * g.kw;
  // dx[n, c, ih, iw] = sum over (o, ki, kj) of w[o, c, ki, kj] * dy[n, o, oh, ow] for the
  // output positions whose window puts tap (ki, kj) on (ih, iw).
  b.run(
    gemmProgram({
      name: `conv2dBackwardInput${half}`,
      inputs: [dyIn.binding, wIn.binding],
      outputs: [['DX', 'f32']],
      uniforms: geometryUniforms(g, p),
      M: g.cg,
      N: g.n * g.h * g.w,
      K: g.og * taps,
      batch: g.groups,
      code: `${dyIn.code}\n${wIn.code}
fn loadA(group: u32, c: u32, k: u32) -> f32 {
  let taps = P.kh * P.kw;
  return ldWT(((group * P.og + k / taps) * P.cg + c) * taps + k % taps);
}
fn loadB(group: u32, k: u32, col: u32) -> f32 {
  let taps = P.kh * P.kw;
  let r = k % taps;
  let plane = u32(P.H * P.W);
  let q = i32(col % plane);
  let th = q / P.W + P.ph - i32(r / P.kw) * P.dh;
  let tw = q % P.W + P.pw - i32(r % P.kw) * P.dw;
  if (th < 0 || tw < 0 || th % P.sh != 0 || tw % P.sw != 0) { return 0.0; }
  let oh = th / P.sh;
  let ow = tw / P.sw;
  if (oh >= P.outH || ow >= P.outW) { return 0.0; }
  return ldDY((((col / plane) * P.O + group * P.og + k / taps) * u32(P.outH) + u32(oh)) * u32(P.outW) + u32(ow));
}
fn store(group: u32, c: u32, col: u32, v: f32) {
  let plane = u32(P.H * P.W);
  DX[((col / plane) * P.C + group * P.cg + c) * plane + col % plane] = v;
}`,
    }),
    [storageOf(dy), storageOf(w)],
    [out.storage],
  );
  return [out];
});

gpuKernel('conv2dBackwardWeight', (b, [x, dy], attrs) => {
  const p = attrs.params as Conv2dParams;
  const g = geometry(p);
  const out = b.output(p.weightShape, productDtype(x.dtype));
  const xIn = operand('X', x.dtype, 'conv2dBackwardWeight');
  const dyIn = operand('DY', dy.dtype, 'conv2dBackwardWeight');
  const half = halfSuffix(x.dtype);
  if (isDepthwise(g)) {
    // A workgroup per weight element, reducing its products over (n, oh, ow) in workgroup memory.
    const weights = g.o * g.kh * g.kw;
    b.run(
      {
        name: `depthwise_conv2dBackwardWeight${half}`,
        inputs: [xIn.binding, dyIn.binding],
        outputs: [['DW', 'f32']],
        uniforms: [['weights', 'u32', weights], ['count', 'u32', g.n * g.outH * g.outW], ...geometryUniforms(g, p)],
        code: `${xIn.code}\n${dyIn.code}\n${IM2COL_WGSL}
var<workgroup> partial: array<f32, ${REDUCE_THREADS}>;
@compute @workgroup_size(${REDUCE_THREADS}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wi = wg.x + wg.y * nwg.x;
  let valid = wi < P.weights;
  let taps = P.kh * P.kw;
  let o = min(wi, P.weights - 1u) / taps;
  let r = wi % taps;
  let plane = u32(P.outH * P.outW);
  var acc = 0.0;
  if (valid) {
    for (var e = lid; e < P.count; e += ${REDUCE_THREADS}u) {
      let n = e / plane;
      let p = i32(e % plane);
      acc = fma(ldDY((n * P.O + o) * plane + u32(p)), inputTap(n, o / P.og, r / P.kw, r % P.kw, p / P.outW, p % P.outW), acc);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = ${REDUCE_THREADS / 2}u; s > 0u; s = s >> 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u && valid) { DW[wi] = partial[0]; }
}`,
        workgroups: workgroupGrid(weights),
      },
      [storageOf(x), storageOf(dy)],
      [out.storage],
    );
    return [out];
  }
  const taps = g.kh * g.kw;
  const M = g.og;
  const N = g.cg * taps;
  const K = g.n * g.outH * g.outW;
  const splits = splitCount(M, N, K, g.groups);
  // Split-K partial sums land in [splits, groups * M * N]; one slice is the weight gradient itself.
  const target = splits > 1 ? b.createStorage(splits * g.o * N * 4) : out.storage;
  // dw[o, (c, ki, kj)] = sum over (n, oh, ow) of dy[n, o, oh, ow] * im2col(x)[(c, ki, kj), (n, oh, ow)].
  b.run(
    gemmProgram({
      name: `conv2dBackwardWeight${half}`,
      inputs: [xIn.binding, dyIn.binding],
      outputs: [['DW', 'f32']],
      uniforms: [...geometryUniforms(g, p), ['weightSize', 'u32', g.o * N]],
      M, N, K,
      batch: g.groups,
      splits,
      code: `${xIn.code}\n${dyIn.code}\n${IM2COL_WGSL}
fn loadA(group: u32, m: u32, k: u32) -> f32 {
  let plane = u32(P.outH * P.outW);
  return ldDY(((k / plane) * P.O + group * P.og + m) * plane + k % plane);
}
fn loadB(group: u32, k: u32, col: u32) -> f32 {
  let taps = P.kh * P.kw;
  let plane = u32(P.outH * P.outW);
  let p = k % plane;
  let r = col % taps;
  return inputTap(k / plane, group * P.cg + col / taps, r / P.kw, r % P.kw, i32(p) / P.outW, i32(p) % P.outW);
}
fn store(group: u32, m: u32, col: u32, v: f32) { DW[split * P.weightSize + (group * P.og + m) * P.N + col] = v; }`,
    }),
    [storageOf(x), storageOf(dy)],
    [target],
  );
  if (splits > 1) {
    const size = g.o * N;
    b.run(
      {
        name: 'sum_splits',
        inputs: [['PART', 'f32']],
        outputs: [['DW', 'f32']],
        uniforms: [['n', 'u32', size], ['splits', 'u32', splits]],
        code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  var acc = 0.0;
  for (var s = 0u; s < P.splits; s++) { acc += PART[s * P.n + i]; }
  DW[i] = acc;
}`,
        workgroups: grid1d(size),
      },
      [target],
      [out.storage],
    );
    b.free(target);
  }
  return [out];
});
