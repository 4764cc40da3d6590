/**
 * float32 2-D convolution (forward, backward-input, backward-weight) on the WebAssembly kernels:
 * im2col / col2im (assembly/conv.ts) around the packed GEMM (assembly/gemm.ts). Same layout and
 * semantics as the reference kernels (src/backends/cpu/kernels/conv2d.ts): NCHW, weights
 * [outC, inC / groups, kH, kW], Conv2dParams with stride / padding / dilation / groups.
 *
 * Each call resets the arena, copies its inputs into the WebAssembly memory once, loops over
 * images and groups calling the kernels, and copies the result out. The weights of each group
 * are packed for the GEMM once per call and reused for every image. 1x1, stride-1, unpadded
 * convolutions run the GEMM straight on the input planes (no column matrix); the bias is fused
 * into the forward GEMM's epilogue.
 *
 * Depthwise convolutions (one input channel per group) are not handled here: a GEMM with a
 * single-row inner dimension is the wrong tool; see `isDepthwiseConv`.
 */
import { conv2dOutputShape } from '../kernels/conv2d.js';
import type { Conv2dParams } from '../kernels/types.js';
import type { WasmKernels } from './module.js';
import { copyOut, gemmExports, u32 } from './gemm.js';

/**
 * The conv exports of the kernel module (assembly/conv.ts). `geom` is the address of 13 i32:
 * channels (of the group), height, width, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW.
 */
export interface ConvExports {
  im2col_f32(geom: number, x: number, cols: number): void;
  col2im_f32(geom: number, cols: number, dx: number): void;
}

/** Depthwise: groups == inChannels > 1 with one input channel per group (any channel multiplier). */
export function isDepthwiseConv(p: Conv2dParams): boolean {
  return p.groups > 1 && p.groups === p.inShape[1] && p.weightShape[1] === 1;
}

interface Plan {
  n: number;
  c: number;
  o: number;
  groups: number;
  cg: number;
  og: number;
  /** Input plane size h * w. */
  plane: number;
  /** Rows of the column matrix: cg * kh * kw. */
  kdim: number;
  /** Output positions per plane: outH * outW. */
  npos: number;
  outShape: [number, number, number, number];
  /** 1x1, stride 1, no padding: the input planes are the column matrix. */
  pointwise: boolean;
  /** The im2col / col2im geometry block: channels .. outW (see ConvExports). */
  geom: Int32Array;
}

function plan(p: Conv2dParams): Plan {
  if (isDepthwiseConv(p)) throw new Error('internal: depthwise convolutions do not take the WebAssembly GEMM path');
  const outShape = conv2dOutputShape(p);
  const [n, c, h, w] = p.inShape;
  const [o, cg, kh, kw] = p.weightShape;
  const [, , outH, outW] = outShape;
  const [sh, sw] = p.stride;
  const [ph, pw] = p.padding;
  const [dh, dw] = p.dilation;
  return {
    n, c, o, groups: p.groups, cg, og: o / p.groups,
    plane: h * w,
    kdim: cg * kh * kw,
    npos: outH * outW,
    outShape,
    pointwise: kh === 1 && kw === 1 && sh === 1 && sw === 1 && ph === 0 && pw === 0,
    geom: Int32Array.of(cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, outH, outW),
  };
}

function checkSize(name: string, a: Float32Array, expected: number): void {
  if (a.length < expected) throw new Error(`conv2d: ${name} has ${a.length} elements, expected ${expected}`);
}

const convExports = (k: WasmKernels): ConvExports => k.exports as unknown as ConvExports;

/** y = conv(x, w) + bias (bias: outChannels values or null); returns [N, outC, outH, outW]. */
export function wasmConv2dForward(k: WasmKernels, x: Float32Array, w: Float32Array, bias: Float32Array | null, p: Conv2dParams): Float32Array {
  const q = plan(p);
  const { n, c, o, groups, cg, og, plane, kdim, npos } = q;
  checkSize('x', x, n * c * plane);
  checkSize('weight', w, o * kdim);
  if (bias) checkSize('bias', bias, o);
  const g = gemmExports(k);
  const cv = convExports(k);
  const arena = k.arena;
  arena.reset();
  const geom = arena.copyIn(q.geom);
  const xa = arena.copyIn(x.subarray(0, n * c * plane));
  const wa = arena.copyIn(w.subarray(0, o * kdim));
  const ba = bias ? arena.copyIn(bias.subarray(0, o)) : 0;
  const ya = arena.alloc(n * o * npos * 4);
  // W_g [og, kdim] is op(A) of every image's product: pack it once per group.
  const packedBytes = u32(g.gemm_packed_a_bytes(og, kdim));
  const packed = arena.alloc(groups * packedBytes);
  for (let gi = 0; gi < groups; gi++) g.gemm_pack_a(0, og, kdim, wa + gi * og * kdim * 4, kdim, packed + gi * packedBytes);
  const cols = q.pointwise ? 0 : arena.alloc(kdim * npos * 4);
  const scratch = arena.alloc(u32(g.gemm_tile_scratch_bytes(kdim, npos, 0)));
  for (let b = 0; b < n; b++) {
    for (let gi = 0; gi < groups; gi++) {
      const xg = xa + (b * c + gi * cg) * plane * 4;
      let src = xg;
      if (cols) {
        cv.im2col_f32(geom, xg, cols);
        src = cols;
      }
      const yg = ya + (b * o + gi * og) * npos * 4;
      g.gemm_tile(og, npos, kdim, 1, packed + gi * packedBytes, 0, 0, src, npos, 0, yg, npos, 0, og, 0, npos, ba ? ba + gi * og * 4 : 0, scratch);
    }
  }
  return copyOut(k, ya, n * o * npos);
}

/** dx = the adjoint of conv(., w) applied to dy ([N, outC, outH, outW]); returns p.inShape. */
export function wasmConv2dBackwardInput(k: WasmKernels, dy: Float32Array, w: Float32Array, p: Conv2dParams): Float32Array {
  const q = plan(p);
  const { n, c, o, groups, cg, og, plane, kdim, npos } = q;
  checkSize('dy', dy, n * o * npos);
  checkSize('weight', w, o * kdim);
  const g = gemmExports(k);
  const cv = convExports(k);
  const arena = k.arena;
  arena.reset();
  const geom = arena.copyIn(q.geom);
  const dya = arena.copyIn(dy.subarray(0, n * o * npos));
  const wa = arena.copyIn(w.subarray(0, o * kdim));
  const dxa = arena.alloc(n * c * plane * 4);
  // op(A) = W_g^T [kdim, og]: W_g is stored [og, kdim], i.e. transposed with leading dimension kdim.
  const packedBytes = u32(g.gemm_packed_a_bytes(kdim, og));
  const packed = arena.alloc(groups * packedBytes);
  for (let gi = 0; gi < groups; gi++) g.gemm_pack_a(1, kdim, og, wa + gi * og * kdim * 4, kdim, packed + gi * packedBytes);
  const cols = q.pointwise ? 0 : arena.alloc(kdim * npos * 4);
  const scratch = arena.alloc(u32(g.gemm_tile_scratch_bytes(og, npos, 0)));
  if (cols) arena.f32(dxa, n * c * plane).fill(0); // col2im accumulates
  for (let b = 0; b < n; b++) {
    for (let gi = 0; gi < groups; gi++) {
      const dxg = dxa + (b * c + gi * cg) * plane * 4;
      const dyg = dya + (b * o + gi * og) * npos * 4;
      // dcols [kdim, npos] = W_g^T @ dy_g (straight into dx for pointwise), then scatter-add.
      g.gemm_tile(kdim, npos, og, 1, packed + gi * packedBytes, 0, 0, dyg, npos, 0, cols || dxg, npos, 0, kdim, 0, npos, 0, scratch);
      if (cols) cv.col2im_f32(geom, cols, dxg);
    }
  }
  return copyOut(k, dxa, n * c * plane);
}

/** dw = d<conv(x, w), dy>/dw summed over the batch; returns p.weightShape. */
export function wasmConv2dBackwardWeight(k: WasmKernels, x: Float32Array, dy: Float32Array, p: Conv2dParams): Float32Array {
  const q = plan(p);
  const { n, c, o, groups, cg, og, plane, kdim, npos } = q;
  checkSize('x', x, n * c * plane);
  checkSize('dy', dy, n * o * npos);
  const g = gemmExports(k);
  const cv = convExports(k);
  const arena = k.arena;
  arena.reset();
  const geom = arena.copyIn(q.geom);
  const xa = arena.copyIn(x.subarray(0, n * c * plane));
  const dya = arena.copyIn(dy.subarray(0, n * o * npos));
  const dwa = arena.alloc(o * kdim * 4);
  const cols = q.pointwise ? 0 : arena.alloc(kdim * npos * 4);
  const scratch = arena.alloc(u32(g.gemm_scratch_bytes(og, kdim, npos)));
  for (let b = 0; b < n; b++) {
    for (let gi = 0; gi < groups; gi++) {
      const xg = xa + (b * c + gi * cg) * plane * 4;
      let src = xg;
      if (cols) {
        cv.im2col_f32(geom, xg, cols);
        src = cols;
      }
      // dW_g [og, kdim] (+)= dy_g [og, npos] @ cols^T, cols stored [kdim, npos].
      const dyg = dya + (b * o + gi * og) * npos * 4;
      g.gemm_f32(0, 1, og, kdim, npos, 1, dyg, npos, src, npos, b === 0 ? 0 : 1, dwa + gi * og * kdim * 4, kdim, 0, scratch);
    }
  }
  return copyOut(k, dwa, o * kdim);
}
