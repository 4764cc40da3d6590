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
import { halfSuffix, operand, productDtype, type Operand } from './half.js';
import type { WebGPUBackend, WebGPUStorage } from '../backend.js';

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
function geometryUniforms(g: Geometry): [string, WgslScalar, number][] {
  return [
    ['C', 'u32', g.c], ['H', 'i32', g.h], ['W', 'i32', g.w], ['O', 'u32', g.o],
    ['cg', 'u32', g.cg], ['og', 'u32', g.og], ['outH', 'i32', g.outH], ['outW', 'i32', g.outW],
  ];
}

/** The window's part of a program key (Program.key): what windowConstants bakes in. */
const windowKey = (g: Geometry, p: Conv2dParams): string => `${g.kh}x${g.kw}s${p.stride}p${p.padding}d${p.dilation}`;

/**
 * The kernel window (size, stride, padding, dilation) as WGSL constants rather than uniforms:
 * the divisions by the tap counts compile to multiplies and shifts, and stride-1 code folds.
 * A network has few distinct windows, so this adds few pipelines.
 */
function windowConstants(g: Geometry, p: Conv2dParams): string {
  return `const KH = ${g.kh}u; const KW = ${g.kw}u; const TAPS = ${g.kh * g.kw}u;
const STRIDE_H = ${p.stride[0]}i; const STRIDE_W = ${p.stride[1]}i; const PAD_H = ${p.padding[0]}i; const PAD_W = ${p.padding[1]}i;
const DIL_H = ${p.dilation[0]}i; const DIL_W = ${p.dilation[1]}i;`;
}

/**
 * WGSL reading input element (image n, channel `channel`, kernel tap ki/kj, output position
 * oh/ow) of X, 0 in the padding: the im2col matrix without materialising it.
 */
const IM2COL_WGSL = `
fn inputTap(n: u32, channel: u32, ki: u32, kj: u32, oh: i32, ow: i32) -> f32 {
  let ih = oh * STRIDE_H - PAD_H + i32(ki) * DIL_H;
  let iw = ow * STRIDE_W - PAD_W + i32(kj) * DIL_W;
  if (ih < 0 || ih >= P.H || iw < 0 || iw >= P.W) { return 0.0; }
  return ldX(((n * P.C + channel) * u32(P.H) + u32(ih)) * u32(P.W) + u32(iw));
}`;

/**
 * What the input-gradient GEMMs (whole window, and per stride phase) share: A is the weights
 * read as [input channel][k], a row starting at channel c's first tap (kA, which differs, adds
 * the output channel and tap); the result is stored at the column's pixel (colY) plus channel c.
 */
const INPUT_GRADIENT_WGSL = `alias RowA = u32;
alias KA = u32;
alias KB = u32;
alias ColY = u32;
fn rowA(group: u32, c: u32) -> u32 { return (group * P.og * P.cg + c) * TAPS; }
fn loadA(group: u32, row: u32, k: u32) -> f32 { return ldWT(row + k); }
fn store(group: u32, c: u32, col: u32, v: f32) { DX[col + c * u32(P.H * P.W)] = v; }`;

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

/** 1x1, stride 1, no padding: input and output pixels coincide. */
const isPointwise = (g: Geometry, p: Conv2dParams): boolean =>
  g.kh === 1 && g.kw === 1 && p.stride[0] === 1 && p.stride[1] === 1 && p.padding[0] === 0 && p.padding[1] === 0;

gpuKernel('conv2d', (b, inputs, attrs) => {
  const p = attrs.params as Conv2dParams;
  const [x, w] = inputs;
  const xIn = operand('X', x.dtype, 'conv2d');
  const wIn = operand('WT', w.dtype, 'conv2d');
  const g = geometry(p);
  const out = b.output([g.n, g.o, g.outH, g.outW], productDtype(x.dtype));
  const ep = epilogue(attrs, inputs);
  const uniforms = geometryUniforms(g);
  const window = windowConstants(g, p);
  const key = `${x.dtype},${w.dtype},${windowKey(g, p)}`;
  const io = {
    inputs: [xIn.binding, wIn.binding, ...ep.bindings] as [string, WgslScalar][],
    outputs: [['Y', 'f32']] as [string, WgslScalar][],
  };
  const loads = `${xIn.code}\n${wIn.code}\n${window}`;
  const half = halfSuffix(x.dtype, w.dtype);
  const storages = [storageOf(x), storageOf(w), ...ep.storages];
  if (isDepthwise(g)) {
    const total = g.n * g.o * g.outH * g.outW;
    b.run(
      {
        name: `depthwise_conv2d${half}_${ep.key}`,
        key,
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
  for (var ki = 0u; ki < KH; ki++) {
    for (var kj = 0u; kj < KW; kj++) {
      acc = fma(ldWT((o * KH + ki) * KW + kj), inputTap(n, channel, ki, kj, oh, ow), acc);
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
  // 1x1, stride 1, no padding: the input planes are the column matrix itself, no tap arithmetic.
  const pointwise = isPointwise(g, p);
  // Columns are output pixels (image, oh, ow), decomposed once per thread by colB; k is (channel, tap).
  const loadB = pointwise
    ? `alias ColB = u32;
alias KB = u32;
fn colB(group: u32, col: u32) -> u32 {
  let plane = u32(P.H * P.W);
  return ((col / plane) * P.C + group * P.cg) * plane + col % plane;
}
fn kB(group: u32, k: u32) -> u32 { return k * u32(P.H * P.W); }
fn loadB(group: u32, k: u32, col: u32) -> f32 { return ldX(col + k); }`
    : `struct ColB { base: u32, ih: i32, iw: i32 }
alias KB = u32;
fn colB(group: u32, col: u32) -> ColB {
  let plane = u32(P.outH * P.outW);
  let p = col % plane;
  let oh = i32(p / u32(P.outW));
  let ow = i32(p % u32(P.outW));
  return ColB(((col / plane) * P.C + group * P.cg) * u32(P.H * P.W), oh * STRIDE_H - PAD_H, ow * STRIDE_W - PAD_W);
}
fn kB(group: u32, k: u32) -> u32 { return k; }
fn loadB(group: u32, k: u32, col: ColB) -> f32 {
  let tap = k % TAPS;
  let ih = col.ih + i32(tap / KW) * DIL_H;
  let iw = col.iw + i32(tap % KW) * DIL_W;
  // Negative coordinates wrap to large unsigned ones: one comparison covers both edges.
  if (u32(ih) >= u32(P.H) || u32(iw) >= u32(P.W)) { return 0.0; }
  return ldX(col.base + ((k / TAPS) * u32(P.H) + u32(ih)) * u32(P.W) + u32(iw));
}`;
  b.run(
    gemmProgram({
      name: `conv2d${pointwise ? '_pointwise' : ''}${half}_${ep.key}`,
      key,
      ...io,
      shared: ep.shared,
      uniforms,
      M: g.og,
      N: g.n * g.outH * g.outW,
      K: g.cg * g.kh * g.kw,
      batch: g.groups,
      layoutA: 'k',
      layoutB: 'n',
      hooks: ['rowA', 'kA', 'colB', 'kB', 'colY'],
      code: `${loads}\n${ep.code}
alias RowA = u32;
alias KA = u32;
fn rowA(group: u32, m: u32) -> u32 { return (group * P.og + m) * P.K; }
fn kA(group: u32, k: u32) -> u32 { return k; }
fn loadA(group: u32, row: u32, k: u32) -> f32 { return ldWT(row + k); }
${loadB}
alias ColY = u32;
fn colY(group: u32, col: u32) -> u32 {
  let plane = u32(P.outH * P.outW);
  return (col / plane) * P.O * plane + col % plane;
}
fn store(group: u32, m: u32, col: u32, v: f32) {
  let o = group * P.og + m;
  let index = col + o * u32(P.outH * P.outW);
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
  const window = windowConstants(g, p);
  const key = `${dy.dtype},${w.dtype},${windowKey(g, p)}`;
  if (isDepthwise(g)) {
    const total = g.n * g.c * g.h * g.w;
    b.run(
      {
        name: `depthwise_conv2dBackwardInput${half}`,
        key,
        inputs: [dyIn.binding, wIn.binding],
        outputs: [['DX', 'f32']],
        uniforms: [['total', 'u32', total], ...geometryUniforms(g)],
        code: `${dyIn.code}\n${wIn.code}\n${window}\n${FLAT_INDEX}\n${MAIN_1D} {
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
    for (var ki = 0u; ki < KH; ki++) {
      let th = ih + PAD_H - i32(ki) * DIL_H;
      if (th < 0 || th % STRIDE_H != 0 || th / STRIDE_H >= P.outH) { continue; }
      for (var kj = 0u; kj < KW; kj++) {
        let tw = iw + PAD_W - i32(kj) * DIL_W;
        if (tw < 0 || tw % STRIDE_W != 0 || tw / STRIDE_W >= P.outW) { continue; }
        acc = fma(ldWT((o * KH + ki) * KW + kj), ldDY(dyBase + u32((th / STRIDE_H) * P.outW + tw / STRIDE_W)), acc);
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
  if (p.stride[0] !== 1 || p.stride[1] !== 1) {
    stridedBackwardInput(b, g, p, dyIn, wIn, [storageOf(dy), storageOf(w)], out.storage, half, key);
    return [out];
  }
  const pointwise = isPointwise(g, p);
  // Columns are input pixels (image, ih, iw), decomposed once per thread by colB; k is (output channel, tap).
  const loadB = pointwise
    ? `alias ColB = u32;
fn colB(group: u32, col: u32) -> u32 {
  let plane = u32(P.H * P.W);
  return ((col / plane) * P.O + group * P.og) * plane + col % plane;
}
fn kB(group: u32, k: u32) -> u32 { return k * u32(P.H * P.W); }
fn loadB(group: u32, k: u32, col: u32) -> f32 { return ldDY(col + k); }`
    : `struct ColB { base: u32, th: i32, tw: i32 }
fn colB(group: u32, col: u32) -> ColB {
  let plane = u32(P.H * P.W);
  let q = col % plane;
  return ColB(((col / plane) * P.O + group * P.og) * u32(P.outH * P.outW), i32(q / u32(P.W)) + PAD_H, i32(q % u32(P.W)) + PAD_W);
}
fn kB(group: u32, k: u32) -> u32 { return k; }
fn loadB(group: u32, k: u32, col: ColB) -> f32 {
  let tap = k % TAPS;
  let th = col.th - i32(tap / KW) * DIL_H;
  let tw = col.tw - i32(tap % KW) * DIL_W;
  // Negative coordinates wrap to large unsigned ones: one comparison covers both edges.
  if (u32(th) >= u32(P.outH) || u32(tw) >= u32(P.outW)) { return 0.0; }
  return ldDY(col.base + ((k / TAPS) * u32(P.outH) + u32(th)) * u32(P.outW) + u32(tw));
}`;
  // dx[n, c, ih, iw] = sum over (o, ki, kj) of w[o, c, ki, kj] * dy[n, o, oh, ow] for the
  // output positions whose window puts tap (ki, kj) on (ih, iw).
  b.run(
    gemmProgram({
      name: `conv2dBackwardInput${pointwise ? '_pointwise' : ''}${half}`,
      key,
      shared: [INPUT_GRADIENT_WGSL],
      inputs: [dyIn.binding, wIn.binding],
      outputs: [['DX', 'f32']],
      uniforms: geometryUniforms(g),
      M: g.cg,
      N: g.n * g.h * g.w,
      K: g.og * g.kh * g.kw,
      batch: g.groups,
      // The weights' rows (input channels) are contiguous for 1x1 windows; otherwise runs of taps are.
      layoutA: g.kh * g.kw === 1 ? 'm' : 'k',
      layoutB: 'n',
      hooks: ['rowA', 'kA', 'colB', 'kB', 'colY'],
      code: `${dyIn.code}\n${wIn.code}\n${window}
fn kA(group: u32, k: u32) -> u32 { return (k / TAPS) * P.cg * TAPS + k % TAPS; }
${loadB}
fn colY(group: u32, col: u32) -> u32 {
  let plane = u32(P.H * P.W);
  return ((col / plane) * P.C + group * P.cg) * plane + col % plane;
}`,
    }),
    [storageOf(dy), storageOf(w)],
    [out.storage],
  );
  return [out];
});

/** The kernel taps of one dimension that reach input positions of one stride phase. */
interface PhaseTaps {
  /** Input positions r, r + stride, ... of this phase along the dimension. */
  positions: number;
  /** How many taps, the first, and the step between them (the taps form an arithmetic progression). */
  count: number;
  first: number;
  step: number;
  /** Output position of the phase's position 0 under the first tap, and its change per tap step. */
  offset: number;
  offsetStep: number;
}

/**
 * For input positions i = r + stride * i' of a dimension, the taps t with (i + pad - t * dilation)
 * divisible by the stride: the only ones whose output position oh = i' + offset - a * offsetStep
 * (for the a-th of them) exists.
 */
function phaseTaps(size: number, kernel: number, stride: number, pad: number, dilation: number, r: number): PhaseTaps {
  const taps: number[] = [];
  for (let t = 0; t < kernel; t++) if ((((r + pad - t * dilation) % stride) + stride) % stride === 0) taps.push(t);
  const first = taps[0] ?? 0;
  const step = taps.length > 1 ? taps[1] - taps[0] : 0;
  return {
    positions: Math.max(0, Math.ceil((size - r) / stride)),
    count: taps.length,
    first,
    step,
    // Exact divisions (that is what selected the taps); unused when no tap reaches the phase.
    offset: taps.length ? (r + pad - first * dilation) / stride : 0,
    offsetStep: (step * dilation) / stride,
  };
}

/**
 * The input gradient of a strided convolution, one implicit GEMM per stride phase (input pixels
 * with the same position modulo the stride): within a phase every pixel is reached by the same
 * taps, so the GEMM's K is only those taps instead of the whole window, most of whose products
 * would be zeros (3/4 of them for a 3x3 or 1x1 window at stride 2). A phase no tap reaches gets
 * a GEMM with K = 0, which writes its zeros.
 */
function stridedBackwardInput(
  b: WebGPUBackend,
  g: Geometry,
  p: Conv2dParams,
  dyIn: Operand,
  wIn: Operand,
  inputs: WebGPUStorage[],
  out: WebGPUStorage,
  half: string,
  key: string,
): void {
  for (let rh = 0; rh < p.stride[0]; rh++) {
    for (let rw = 0; rw < p.stride[1]; rw++) {
      const th = phaseTaps(g.h, g.kh, p.stride[0], p.padding[0], p.dilation[0], rh);
      const tw = phaseTaps(g.w, g.kw, p.stride[1], p.padding[1], p.dilation[1], rw);
      const phase = `const KW = ${g.kw}u; const TAPS = ${g.kh * g.kw}u;
const PHASE_H = ${rh}u; const PHASE_W = ${rw}u; const STRIDE_H = ${p.stride[0]}u; const STRIDE_W = ${p.stride[1]}u;
const PTAPS = ${Math.max(1, th.count * tw.count)}u; const PTAPS_W = ${Math.max(1, tw.count)}u;
const TAP0 = ${th.first * g.kw + tw.first}u; const TAP_STEP_H = ${th.step * g.kw}u; const TAP_STEP_W = ${tw.step}u;
const OFF_H = ${th.offset}i; const OFF_W = ${tw.offset}i; const OFF_STEP_H = ${th.offsetStep}i; const OFF_STEP_W = ${tw.offsetStep}i;`;
      b.run(
        gemmProgram({
          name: `conv2dBackwardInput_strided${half}`,
          key: `${key},${rh},${rw}`,
          shared: [INPUT_GRADIENT_WGSL],
          inputs: [dyIn.binding, wIn.binding],
          outputs: [['DX', 'f32']],
          uniforms: [...geometryUniforms(g), ['Hp', 'u32', th.positions], ['Wp', 'u32', tw.positions]],
          M: g.cg,
          N: g.n * th.positions * tw.positions,
          K: g.og * th.count * tw.count,
          batch: g.groups,
          layoutA: th.count * tw.count === 1 ? 'm' : 'k',
          layoutB: 'n',
          hooks: ['rowA', 'kA', 'colB', 'kB', 'colY'],
          // k is (output channel o, the phase's tap a * PTAPS_W + c); columns are the phase's pixels.
          code: `${dyIn.code}\n${wIn.code}\n${phase}
fn kA(group: u32, k: u32) -> u32 {
  let t = k % PTAPS;
  return (k / PTAPS) * P.cg * TAPS + TAP0 + (t / PTAPS_W) * TAP_STEP_H + (t % PTAPS_W) * TAP_STEP_W;
}
struct ColB { base: u32, i: i32, j: i32 }
fn colB(group: u32, col: u32) -> ColB {
  let plane = P.Hp * P.Wp;
  let q = col % plane;
  return ColB(((col / plane) * P.O + group * P.og) * u32(P.outH * P.outW), i32(q / P.Wp) + OFF_H, i32(q % P.Wp) + OFF_W);
}
fn kB(group: u32, k: u32) -> u32 { return k; }
fn loadB(group: u32, k: u32, col: ColB) -> f32 {
  let t = k % PTAPS;
  let oh = col.i - i32(t / PTAPS_W) * OFF_STEP_H;
  let ow = col.j - i32(t % PTAPS_W) * OFF_STEP_W;
  // Negative coordinates wrap to large unsigned ones: one comparison covers both edges.
  if (u32(oh) >= u32(P.outH) || u32(ow) >= u32(P.outW)) { return 0.0; }
  return ldDY(col.base + ((k / PTAPS) * u32(P.outH) + u32(oh)) * u32(P.outW) + u32(ow));
}
fn colY(group: u32, col: u32) -> u32 {
  let plane = P.Hp * P.Wp;
  let q = col % plane;
  let ih = PHASE_H + STRIDE_H * (q / P.Wp);
  let iw = PHASE_W + STRIDE_W * (q % P.Wp);
  return (((col / plane) * P.C + group * P.cg) * u32(P.H) + ih) * u32(P.W) + iw;
}`,
        }),
        inputs,
        [out],
      );
    }
  }
}

gpuKernel('conv2dBackwardWeight', (b, [x, dy], attrs) => {
  const p = attrs.params as Conv2dParams;
  const g = geometry(p);
  const out = b.output(p.weightShape, productDtype(x.dtype));
  const xIn = operand('X', x.dtype, 'conv2dBackwardWeight');
  const dyIn = operand('DY', dy.dtype, 'conv2dBackwardWeight');
  const half = halfSuffix(x.dtype);
  const window = windowConstants(g, p);
  const key = `${x.dtype},${dy.dtype},${windowKey(g, p)}`;
  if (isDepthwise(g)) {
    // A workgroup per weight element, reducing its products over (n, oh, ow) in workgroup memory.
    const weights = g.o * g.kh * g.kw;
    b.run(
      {
        name: `depthwise_conv2dBackwardWeight${half}`,
        key,
        inputs: [xIn.binding, dyIn.binding],
        outputs: [['DW', 'f32']],
        uniforms: [['weights', 'u32', weights], ['count', 'u32', g.n * g.outH * g.outW], ...geometryUniforms(g)],
        code: `${xIn.code}\n${dyIn.code}\n${window}\n${IM2COL_WGSL}
var<workgroup> partial: array<f32, ${REDUCE_THREADS}>;
@compute @workgroup_size(${REDUCE_THREADS}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let wi = wg.x + wg.y * nwg.x;
  let valid = wi < P.weights;
  let o = min(wi, P.weights - 1u) / TAPS;
  let r = wi % TAPS;
  let plane = u32(P.outH * P.outW);
  var acc = 0.0;
  if (valid) {
    for (var e = lid; e < P.count; e += ${REDUCE_THREADS}u) {
      let n = e / plane;
      let p = i32(e % plane);
      acc = fma(ldDY((n * P.O + o) * plane + u32(p)), inputTap(n, o / P.og, r / KW, r % KW, p / P.outW, p % P.outW), acc);
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
  const M = g.og;
  const N = g.cg * g.kh * g.kw;
  const K = g.n * g.outH * g.outW;
  const splits = splitCount(M, N, K, g.groups);
  // Split-K partial sums land in [splits, groups * M * N]; one slice is the weight gradient itself.
  const target = splits > 1 ? b.createStorage(splits * g.o * N * 4) : out.storage;
  const pointwise = isPointwise(g, p);
  // k is an output pixel (image, oh, ow), decomposed once per K tile by kA and kB and shared by
  // all of a thread's rows and columns; columns are (input channel, tap), decomposed once by colB.
  const loadB = pointwise
    ? `alias ColB = u32;
alias KB = u32;
fn colB(group: u32, col: u32) -> u32 { return (group * P.cg + col) * u32(P.H * P.W); }
fn kB(group: u32, k: u32) -> u32 {
  let plane = u32(P.H * P.W);
  return (k / plane) * P.C * plane + k % plane;
}
fn loadB(group: u32, k: u32, col: u32) -> f32 { return ldX(col + k); }`
    : `struct ColB { channel: u32, dh: i32, dw: i32 }
struct KB { image: u32, oh: i32, ow: i32 }
fn colB(group: u32, col: u32) -> ColB {
  let tap = col % TAPS;
  return ColB((group * P.cg + col / TAPS) * u32(P.H * P.W), i32(tap / KW) * DIL_H - PAD_H, i32(tap % KW) * DIL_W - PAD_W);
}
fn kB(group: u32, k: u32) -> KB {
  let plane = u32(P.outH * P.outW);
  let p = k % plane;
  return KB((k / plane) * P.C * u32(P.H * P.W), i32(p / u32(P.outW)) * STRIDE_H, i32(p % u32(P.outW)) * STRIDE_W);
}
fn loadB(group: u32, k: KB, col: ColB) -> f32 {
  let ih = k.oh + col.dh;
  let iw = k.ow + col.dw;
  // Negative coordinates wrap to large unsigned ones: one comparison covers both edges.
  if (u32(ih) >= u32(P.H) || u32(iw) >= u32(P.W)) { return 0.0; }
  return ldX(k.image + col.channel + u32(ih) * u32(P.W) + u32(iw));
}`;
  // dw[o, (c, ki, kj)] = sum over (n, oh, ow) of dy[n, o, oh, ow] * im2col(x)[(c, ki, kj), (n, oh, ow)].
  b.run(
    gemmProgram({
      name: `conv2dBackwardWeight${pointwise ? '_pointwise' : ''}${half}`,
      key,
      inputs: [xIn.binding, dyIn.binding],
      outputs: [['DW', 'f32']],
      uniforms: [...geometryUniforms(g), ['weightSize', 'u32', g.o * N]],
      M, N, K,
      batch: g.groups,
      splits,
      // Both operands are contiguous along k (output pixels).
      layoutA: 'k',
      layoutB: 'k',
      hooks: ['rowA', 'kA', 'colB', 'kB'],
      code: `${xIn.code}\n${dyIn.code}\n${window}
alias RowA = u32;
alias KA = u32;
fn rowA(group: u32, m: u32) -> u32 { return (group * P.og + m) * u32(P.outH * P.outW); }
fn kA(group: u32, k: u32) -> u32 {
  let plane = u32(P.outH * P.outW);
  return (k / plane) * P.O * plane + k % plane;
}
fn loadA(group: u32, row: u32, k: u32) -> f32 { return ldDY(row + k); }
${loadB}
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
