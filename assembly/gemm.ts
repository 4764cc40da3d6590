// Single-precision GEMM: C = alpha * op(A) @ op(B) + beta * C (+ a per-row bias), row-major,
// leading dimensions in elements, every address a byte offset chosen by JavaScript (see index.ts).
//
// Blocking (Goto / BLIS, scaled to 128-bit SIMD and V8's 15 usable xmm registers):
//  - K is cut into nearly equal blocks of at most KC = 256 (kBlock);
//  - op(A) is packed into MR-row micro-panels (MR floats per k), op(B) into NR-column
//    micro-panels (NR floats per k); ragged edges are zero-padded in the panels. A row-major B
//    (not transposed) feeding at most DIRECT_MAX_M rows is not packed at all: the micro-kernel
//    steps through its rows in place (only a ragged last panel is packed);
//  - the macro-kernel walks NC-column blocks of C, then K blocks, then MC-row blocks, then NR
//    panels of B (one stays in L1), then MR panels of A (the MC x kc block stays in L2);
//  - the 5 x 8 micro-kernel keeps 10 f32x4 accumulators in registers across a K block
//    (f32x4.mul + f32x4.add; no FMA without relaxed-simd) and applies alpha, the bias and beta
//    once at the end of the block; 4..1-row variants take the last panel of a ragged M (M = 16
//    costs 3 full panels and a 1-row one, not 4 full ones).
// Measured on Zen 5 under V8 (Node 20), 512^3: 5x8 ~45 GFLOP/s; 4x8 ~38; 3x12, 2x16 ~35-40;
// 6x8, 4x12, 3x16, 8x8, 6x12 22-31 (they need more than 15 live vectors and spill); unrolling
// k by 2 lost ~30% (spills); MC, KC and NC moved results within noise.
//
// Entry points:
//  - gemm_f32: the whole product on one thread (packs op(A) into scratch, then gemm_tile).
//  - gemm_pack_a / gemm_pack_b: pack a whole op(A) / op(B) once into a caller-owned buffer
//    (sizes from gemm_packed_a_bytes / gemm_packed_b_bytes), e.g. conv weights reused for every
//    image of a batch.
//  - gemm_tile: any rectangle C[m0..m1, n0..n1] from a packed op(A) and either a packed op(B)
//    or the raw B (read in place, or packed block by block into the caller's scratch).
//
// Splitting one product over threads (one wasm instance per worker, all over the shared memory):
//  1. one thread packs op(A) with gemm_pack_a into a shared buffer (or each thread packs the
//     part it needs; the layout is fixed, so the parts line up);
//  2. split by columns (the usual case, N large): thread t calls gemm_tile with pb = 0 and its
//     own column range [n0, n1) and scratch (gemm_tile_scratch_bytes(K, n1 - n0, false)); each
//     thread packs only its own columns of B, so nothing is packed twice;
//  3. split by rows (N small, M large): pack op(B) once with gemm_pack_b, then thread t calls
//     gemm_tile with that pb, the full column range and rows [m0, m1), m0 a multiple of
//     gemm_mr(); scratch is then only gemm_tile_scratch_bytes(K, 0, true) bytes;
//  4. with both packed, any grid of rectangles works (n0 a multiple of gemm_nr()).
// gemm_tile_desc takes the fixed arguments from a descriptor in memory, so that a task is just
// (descriptor, m0, m1, n0, n1, scratch).
// Rectangles must not overlap; the bias and beta apply to each element exactly once (in the
// first K block), so disjoint rectangles compose to the whole product.

import { madd } from './fma';

// @ts-ignore: decorator
@inline const MR: i32 = 5;
// @ts-ignore: decorator
@inline const NR: i32 = 8;
// @ts-ignore: decorator
@inline const KC: i32 = 256;
// @ts-ignore: decorator
@inline const MC: i32 = 80;
// @ts-ignore: decorator
@inline const NC: i32 = 2048;
/** gemm_tile reads a row-major B in place, unpacked, when it computes at most this many rows. */
// @ts-ignore: decorator
@inline const DIRECT_MAX_M: i32 = 256;
/** Scratch for one MR x NR edge tile, at the start of every gemm_tile scratch region. */
// @ts-ignore: decorator
@inline const TILE_BYTES: usize = 256;

// @ts-ignore: decorator
@inline function roundUp(x: i32, m: i32): i32 {
  return ((x + m - 1) / m) * m;
}

/** K block length: K cut into ceil(K / KC) nearly equal blocks (no tiny trailing block). */
// @ts-ignore: decorator
@inline function kBlock(K: i32): i32 {
  if (K <= 0) return 0;
  const blocks = (K + KC - 1) / KC;
  return (K + blocks - 1) / blocks;
}

// Clamp epilogue (ReLU = [0, inf), ReLU6 = [0, 6]) applied by the stores of the last K block.
// Globals are per instance, i.e. per thread: each task sets them for its own GEMM calls.
let clampNow: bool = false;
let clampLo: f32 = 0;
let clampHi: f32 = 0;

/** Stores alpha * x + bias (+ beta * old) at p + off (4 floats), clamped when clampNow. */
// @ts-ignore: decorator
@inline function finish(p: usize, off: usize, x: v128, va: v128, alphaOne: bool, bv: v128, beta: f32, vb: v128): void {
  let y = alphaOne ? x : f32x4.mul(x, va);
  y = f32x4.add(y, bv);
  if (beta != 0) {
    const old = v128.load(p + off);
    y = f32x4.add(y, beta == 1 ? old : f32x4.mul(old, vb));
  }
  if (clampNow) y = f32x4.min(f32x4.max(y, f32x4.splat(clampLo)), f32x4.splat(clampHi));
  v128.store(p + off, y);
}

/** The epilogue of a partial tile: the accumulators were spilled to `tile` (tileN floats a row). */
function finishEdge(tile: usize, tileN: i32, c: usize, ldc: usize, alpha: f32, beta: f32, bias: usize, mr: i32, nr: i32): void {
  for (let i = 0; i < mr; i++) {
    const bv: f32 = bias ? load<f32>(bias + (<usize>i << 2)) : 0;
    const row = c + <usize>i * ldc;
    const t = tile + (<usize>(i * tileN) << 2);
    for (let j = 0; j < nr; j++) {
      const o = <usize>j << 2;
      let y = alpha * load<f32>(t + o) + bv;
      if (beta != 0) y += beta * load<f32>(row + o);
      if (clampNow) y = min(max(y, clampLo), clampHi);
      store<f32>(row + o, y);
    }
  }
}

/**
 * The micro-kernel: the MR x NR block of C at c (row stride ldc bytes) gets
 * alpha * (A panel @ B panel) + bias[i] + beta * C, over kc steps of the packed A panel a (MR
 * floats per k) and the B panel b (NR floats per k, bs bytes apart: NR * 4 when packed, B's row
 * stride when read in place). Only the top-left mr x nr part is written.
 */
function micro5x8(kc: i32, a: usize, b: usize, bs: usize, c: usize, ldc: usize, alpha: f32, beta: f32, bias: usize, mr: i32, nr: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let x: v128;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b, 0);
    const b1 = v128.load(b, 16);
    x = v128.load32_splat(a, 0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    x = v128.load32_splat(a, 16);
    c40 = madd(x, b0, c40);
    c41 = madd(x, b1, c41);
    a += 20;
    b += bs;
  }
  if (mr == 5 && nr == 8) {
    const va = f32x4.splat(alpha);
    const vb = f32x4.splat(beta);
    const a1 = alpha == 1;
    let bv = f32x4.splat(0);
    if (bias) bv = v128.load32_splat(bias, 0);
    finish(c + 0 * ldc, 0, c00, va, a1, bv, beta, vb);
    finish(c + 0 * ldc, 16, c01, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 4);
    finish(c + 1 * ldc, 0, c10, va, a1, bv, beta, vb);
    finish(c + 1 * ldc, 16, c11, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 8);
    finish(c + 2 * ldc, 0, c20, va, a1, bv, beta, vb);
    finish(c + 2 * ldc, 16, c21, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 12);
    finish(c + 3 * ldc, 0, c30, va, a1, bv, beta, vb);
    finish(c + 3 * ldc, 16, c31, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 16);
    finish(c + 4 * ldc, 0, c40, va, a1, bv, beta, vb);
    finish(c + 4 * ldc, 16, c41, va, a1, bv, beta, vb);
  } else {
    v128.store(tile, c00, 0);
    v128.store(tile, c01, 16);
    v128.store(tile, c10, 32);
    v128.store(tile, c11, 48);
    v128.store(tile, c20, 64);
    v128.store(tile, c21, 80);
    v128.store(tile, c30, 96);
    v128.store(tile, c31, 112);
    v128.store(tile, c40, 128);
    v128.store(tile, c41, 144);
    finishEdge(tile, 8, c, ldc, alpha, beta, bias, mr, nr);
  }
}

/** As micro5x8 for an edge panel with only its first 4 rows in use (the rest is padding). */
function micro4x8(kc: i32, a: usize, b: usize, bs: usize, c: usize, ldc: usize, alpha: f32, beta: f32, bias: usize, nr: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let x: v128;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b, 0);
    const b1 = v128.load(b, 16);
    x = v128.load32_splat(a, 0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    x = v128.load32_splat(a, 12);
    c30 = madd(x, b0, c30);
    c31 = madd(x, b1, c31);
    a += 20;
    b += bs;
  }
  if (nr == 8) {
    const va = f32x4.splat(alpha);
    const vb = f32x4.splat(beta);
    const a1 = alpha == 1;
    let bv = f32x4.splat(0);
    if (bias) bv = v128.load32_splat(bias, 0);
    finish(c + 0 * ldc, 0, c00, va, a1, bv, beta, vb);
    finish(c + 0 * ldc, 16, c01, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 4);
    finish(c + 1 * ldc, 0, c10, va, a1, bv, beta, vb);
    finish(c + 1 * ldc, 16, c11, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 8);
    finish(c + 2 * ldc, 0, c20, va, a1, bv, beta, vb);
    finish(c + 2 * ldc, 16, c21, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 12);
    finish(c + 3 * ldc, 0, c30, va, a1, bv, beta, vb);
    finish(c + 3 * ldc, 16, c31, va, a1, bv, beta, vb);
  } else {
    v128.store(tile, c00, 0);
    v128.store(tile, c01, 16);
    v128.store(tile, c10, 32);
    v128.store(tile, c11, 48);
    v128.store(tile, c20, 64);
    v128.store(tile, c21, 80);
    v128.store(tile, c30, 96);
    v128.store(tile, c31, 112);
    finishEdge(tile, 8, c, ldc, alpha, beta, bias, 4, nr);
  }
}

/** As micro5x8 for an edge panel with only its first 3 rows in use (the rest is padding). */
function micro3x8(kc: i32, a: usize, b: usize, bs: usize, c: usize, ldc: usize, alpha: f32, beta: f32, bias: usize, nr: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let x: v128;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b, 0);
    const b1 = v128.load(b, 16);
    x = v128.load32_splat(a, 0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    x = v128.load32_splat(a, 8);
    c20 = madd(x, b0, c20);
    c21 = madd(x, b1, c21);
    a += 20;
    b += bs;
  }
  if (nr == 8) {
    const va = f32x4.splat(alpha);
    const vb = f32x4.splat(beta);
    const a1 = alpha == 1;
    let bv = f32x4.splat(0);
    if (bias) bv = v128.load32_splat(bias, 0);
    finish(c + 0 * ldc, 0, c00, va, a1, bv, beta, vb);
    finish(c + 0 * ldc, 16, c01, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 4);
    finish(c + 1 * ldc, 0, c10, va, a1, bv, beta, vb);
    finish(c + 1 * ldc, 16, c11, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 8);
    finish(c + 2 * ldc, 0, c20, va, a1, bv, beta, vb);
    finish(c + 2 * ldc, 16, c21, va, a1, bv, beta, vb);
  } else {
    v128.store(tile, c00, 0);
    v128.store(tile, c01, 16);
    v128.store(tile, c10, 32);
    v128.store(tile, c11, 48);
    v128.store(tile, c20, 64);
    v128.store(tile, c21, 80);
    finishEdge(tile, 8, c, ldc, alpha, beta, bias, 3, nr);
  }
}

/** As micro5x8 for an edge panel with only its first 2 rows in use (the rest is padding). */
function micro2x8(kc: i32, a: usize, b: usize, bs: usize, c: usize, ldc: usize, alpha: f32, beta: f32, bias: usize, nr: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let x: v128;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b, 0);
    const b1 = v128.load(b, 16);
    x = v128.load32_splat(a, 0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    x = v128.load32_splat(a, 4);
    c10 = madd(x, b0, c10);
    c11 = madd(x, b1, c11);
    a += 20;
    b += bs;
  }
  if (nr == 8) {
    const va = f32x4.splat(alpha);
    const vb = f32x4.splat(beta);
    const a1 = alpha == 1;
    let bv = f32x4.splat(0);
    if (bias) bv = v128.load32_splat(bias, 0);
    finish(c + 0 * ldc, 0, c00, va, a1, bv, beta, vb);
    finish(c + 0 * ldc, 16, c01, va, a1, bv, beta, vb);
    if (bias) bv = v128.load32_splat(bias, 4);
    finish(c + 1 * ldc, 0, c10, va, a1, bv, beta, vb);
    finish(c + 1 * ldc, 16, c11, va, a1, bv, beta, vb);
  } else {
    v128.store(tile, c00, 0);
    v128.store(tile, c01, 16);
    v128.store(tile, c10, 32);
    v128.store(tile, c11, 48);
    finishEdge(tile, 8, c, ldc, alpha, beta, bias, 2, nr);
  }
}

/** As micro5x8 for an edge panel with only its first 1 row in use (the rest is padding). */
function micro1x8(kc: i32, a: usize, b: usize, bs: usize, c: usize, ldc: usize, alpha: f32, beta: f32, bias: usize, nr: i32, tile: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let x: v128;
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(b, 0);
    const b1 = v128.load(b, 16);
    x = v128.load32_splat(a, 0);
    c00 = madd(x, b0, c00);
    c01 = madd(x, b1, c01);
    a += 20;
    b += bs;
  }
  if (nr == 8) {
    const va = f32x4.splat(alpha);
    const vb = f32x4.splat(beta);
    const a1 = alpha == 1;
    let bv = f32x4.splat(0);
    if (bias) bv = v128.load32_splat(bias, 0);
    finish(c + 0 * ldc, 0, c00, va, a1, bv, beta, vb);
    finish(c + 0 * ldc, 16, c01, va, a1, bv, beta, vb);
  } else {
    v128.store(tile, c00, 0);
    v128.store(tile, c01, 16);
    finishEdge(tile, 8, c, ldc, alpha, beta, bias, 1, nr);
  }
}

/** The micro-kernel for an A panel with mr (1..MR) rows in use. */
// @ts-ignore: decorator
@inline function microRows(mr: i32, kc: i32, a: usize, b: usize, bs: usize, c: usize, ldc: usize, alpha: f32, beta: f32, bias: usize, nr: i32, tile: usize): void {
  if (mr == 5) micro5x8(kc, a, b, bs, c, ldc, alpha, beta, bias, 5, nr, tile);
  else if (mr == 4) micro4x8(kc, a, b, bs, c, ldc, alpha, beta, bias, nr, tile);
  else if (mr == 3) micro3x8(kc, a, b, bs, c, ldc, alpha, beta, bias, nr, tile);
  else if (mr == 2) micro2x8(kc, a, b, bs, c, ldc, alpha, beta, bias, nr, tile);
  else micro1x8(kc, a, b, bs, c, ldc, alpha, beta, bias, nr, tile);
}

/** Packs op(A)[i0 .. i0+mr, k0 .. k0+kc] as one MR-row micro-panel (MR floats per k, rows mr.. zero). */
function packAPanel(transA: bool, a: usize, lda: usize, i0: i32, mr: i32, k0: i32, kc: i32, dst: usize): void {
  const step: usize = <usize>MR << 2;
  if (transA) {
    // A stored [K, M]: the mr values of one k are contiguous.
    let src = a + ((<usize>k0 * lda + <usize>i0) << 2);
    const ld: usize = lda << 2;
    if (mr == MR) {
      for (let p = 0; p < kc; p++) {
        for (let r = 0; r < MR; r++) store<f32>(dst + (<usize>r << 2), load<f32>(src + (<usize>r << 2)));
        src += ld;
        dst += step;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        let r = 0;
        for (; r < mr; r++) store<f32>(dst + (<usize>r << 2), load<f32>(src + (<usize>r << 2)));
        for (; r < MR; r++) store<f32>(dst + (<usize>r << 2), 0);
        src += ld;
        dst += step;
      }
    }
  } else if (mr == MR) {
    // A stored [M, K], a full panel (written for MR = 5): transpose 4 k x 4 rows in registers,
    // row 4 lane by lane.
    const ld: usize = lda << 2;
    const s0 = a + ((<usize>i0 * lda + <usize>k0) << 2);
    const s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld, s4 = s3 + ld;
    let p = 0;
    let o: usize = 0;
    for (; p + 4 <= kc; p += 4) {
      transpose4(v128.load(s0 + o), v128.load(s1 + o), v128.load(s2 + o), v128.load(s3 + o), dst, step);
      const r4 = v128.load(s4 + o);
      store<f32>(dst, f32x4.extract_lane(r4, 0), 16);
      store<f32>(dst + step, f32x4.extract_lane(r4, 1), 16);
      store<f32>(dst + 2 * step, f32x4.extract_lane(r4, 2), 16);
      store<f32>(dst + 3 * step, f32x4.extract_lane(r4, 3), 16);
      o += 16;
      dst += step << 2;
    }
    for (; p < kc; p++) {
      store<f32>(dst, load<f32>(s0 + o));
      store<f32>(dst, load<f32>(s1 + o), 4);
      store<f32>(dst, load<f32>(s2 + o), 8);
      store<f32>(dst, load<f32>(s3 + o), 12);
      store<f32>(dst, load<f32>(s4 + o), 16);
      o += 4;
      dst += step;
    }
  } else {
    // A stored [M, K], a partial panel: row by row, interleaving MR rows.
    for (let r = 0; r < MR; r++) {
      let d = dst + (<usize>r << 2);
      if (r < mr) {
        let src = a + (((<usize>(i0 + r)) * lda + <usize>k0) << 2);
        for (let p = 0; p < kc; p++) {
          store<f32>(d, load<f32>(src));
          src += 4;
          d += step;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          store<f32>(d, 0);
          d += step;
        }
      }
    }
  }
}

/** Packs op(B)[k0 .. k0+kc, j0 .. j0+nr] as one NR-column micro-panel (NR floats per k, columns nr.. zero). */
function packBPanel(transB: bool, b: usize, ldb: usize, k0: i32, kc: i32, j0: i32, nr: i32, dst: usize): void {
  const step: usize = <usize>NR << 2;
  if (!transB) {
    // B stored [K, N]: the nr values of one k are contiguous.
    let src = b + ((<usize>k0 * ldb + <usize>j0) << 2);
    const ld: usize = ldb << 2;
    if (nr == NR) {
      for (let p = 0; p < kc; p++) {
        for (let v: usize = 0; v < <usize>NR * 4; v += 16) v128.store(dst + v, v128.load(src + v));
        src += ld;
        dst += step;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        let j = 0;
        for (; j < nr; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
        for (; j < NR; j++) store<f32>(dst + (<usize>j << 2), 0);
        src += ld;
        dst += step;
      }
    }
  } else if (nr == NR) {
    // B stored [N, K]: column j of op(B) is row j of B, contiguous along k. Transpose 4 k x 4
    // columns at a time in registers.
    const ld: usize = ldb << 2;
    const s0 = b + ((<usize>j0 * ldb + <usize>k0) << 2);
    const s1 = s0 + ld, s2 = s1 + ld, s3 = s2 + ld, s4 = s3 + ld, s5 = s4 + ld, s6 = s5 + ld, s7 = s6 + ld;
    let p = 0;
    let o: usize = 0;
    for (; p + 4 <= kc; p += 4) {
      transpose4(v128.load(s0 + o), v128.load(s1 + o), v128.load(s2 + o), v128.load(s3 + o), dst, step);
      transpose4(v128.load(s4 + o), v128.load(s5 + o), v128.load(s6 + o), v128.load(s7 + o), dst + 16, step);
      o += 16;
      dst += step << 2;
    }
    for (; p < kc; p++) {
      store<f32>(dst, load<f32>(s0 + o));
      store<f32>(dst, load<f32>(s1 + o), 4);
      store<f32>(dst, load<f32>(s2 + o), 8);
      store<f32>(dst, load<f32>(s3 + o), 12);
      store<f32>(dst, load<f32>(s4 + o), 16);
      store<f32>(dst, load<f32>(s5 + o), 20);
      store<f32>(dst, load<f32>(s6 + o), 24);
      store<f32>(dst, load<f32>(s7 + o), 28);
      o += 4;
      dst += step;
    }
  } else {
    // B stored [N, K], a partial panel: column by column.
    for (let j = 0; j < NR; j++) {
      let d = dst + (<usize>j << 2);
      if (j < nr) {
        let src = b + (((<usize>(j0 + j)) * ldb + <usize>k0) << 2);
        for (let p = 0; p < kc; p++) {
          store<f32>(d, load<f32>(src));
          src += 4;
          d += step;
        }
      } else {
        for (let p = 0; p < kc; p++) {
          store<f32>(d, 0);
          d += step;
        }
      }
    }
  }
}

/** Stores the transpose of the 4 x 4 block with rows r0..r3 as 4 rows of 4 floats, `step` bytes apart. */
// @ts-ignore: decorator
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, step: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + step, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * step, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * step, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

/**
 * Packs op(B)[k0 .. k0+kc, j0 .. j0+nc] for B stored [K, N] into NR-column panels (the panel of
 * columns j0 + jr at float offset jr * kc), reading B row by row (sequential streams, which the
 * hardware prefetchers follow, unlike a panel-by-panel walk down the columns).
 */
function packBRows(b: usize, ldb: usize, k0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const full = nc & ~(NR - 1);
  const panelBytes: usize = (<usize>kc * <usize>NR) << 2;
  let src = b + ((<usize>k0 * ldb + <usize>j0) << 2);
  const ld: usize = ldb << 2;
  for (let p = 0; p < kc; p++) {
    let d = dst + ((<usize>p * <usize>NR) << 2);
    let s = src;
    for (let j = 0; j < full; j += NR) {
      v128.store(d, v128.load(s));
      v128.store(d, v128.load(s, 16), 16);
      s += <usize>NR << 2;
      d += panelBytes;
    }
    src += ld;
  }
  if (full < nc) packBPanel(false, b, ldb, k0, kc, j0 + full, nc - full, dst + ((<usize>full * <usize>kc) << 2));
}

/** Bytes of a packed op(A) ([M, K], see gemm_pack_a). */
export function gemm_packed_a_bytes(M: i32, K: i32): usize {
  return <usize>roundUp(M, MR) * <usize>K * 4;
}

/** Bytes of a packed op(B) ([K, N], see gemm_pack_b). */
export function gemm_packed_b_bytes(K: i32, N: i32): usize {
  return <usize>roundUp(N, NR) * <usize>K * 4;
}

/** Scratch bytes gemm_tile needs to compute `width` columns (pb = 0: B packed on the fly). */
export function gemm_tile_scratch_bytes(K: i32, width: i32, prepackedB: bool): usize {
  if (prepackedB) return TILE_BYTES;
  const nc = width < NC ? width : NC;
  return TILE_BYTES + <usize>kBlock(K) * <usize>roundUp(nc, NR) * 4;
}

/** Scratch bytes gemm_f32 needs. */
export function gemm_scratch_bytes(M: i32, N: i32, K: i32): usize {
  return gemm_packed_a_bytes(M, K) + gemm_tile_scratch_bytes(K, N, false);
}

/** Rows of a packed A panel: gemm_tile's m0 must be a multiple of this. */
export function gemm_mr(): i32 {
  return MR;
}

/** Columns of a packed B panel: with a packed B, gemm_tile's n0 must be a multiple of this. */
export function gemm_nr(): i32 {
  return NR;
}

/**
 * Packs op(A) ([M, K]; A stored [M, K] with leading dimension lda, or [K, M] when transA) into
 * dst (gemm_packed_a_bytes(M, K), 16-byte aligned): K blocks of kc = kBlock(K) (the last may be
 * shorter), the block starting at k0 at float offset k0 * roundUp(M, MR), inside it MR-row
 * micro-panels, the panel of rows i0.. at float offset i0 * kc.
 */
export function gemm_pack_a(transA: bool, M: i32, K: i32, a: usize, lda: i32, dst: usize): void {
  const kcb = kBlock(K);
  const Mp = roundUp(M, MR);
  for (let k0 = 0; k0 < K; k0 += kcb) {
    const kc = min(kcb, K - k0);
    const block = dst + ((<usize>k0 * <usize>Mp) << 2);
    for (let i0 = 0; i0 < M; i0 += MR) packAPanel(transA, a, <usize>lda, i0, min(MR, M - i0), k0, kc, block + ((<usize>i0 * <usize>kc) << 2));
  }
}

/**
 * Packs op(B) ([K, N]; B stored [K, N] with leading dimension ldb, or [N, K] when transB) into
 * dst (gemm_packed_b_bytes(K, N)): K blocks as for A, the block at k0 at float offset
 * k0 * roundUp(N, NR), inside it NR-column micro-panels, the panel of columns j0.. at j0 * kc.
 */
export function gemm_pack_b(transB: bool, K: i32, N: i32, b: usize, ldb: i32, dst: usize): void {
  const kcb = kBlock(K);
  const Np = roundUp(N, NR);
  for (let k0 = 0; k0 < K; k0 += kcb) {
    const kc = min(kcb, K - k0);
    const block = dst + ((<usize>k0 * <usize>Np) << 2);
    for (let j0 = 0; j0 < N; j0 += NR) packBPanel(transB, b, <usize>ldb, k0, kc, j0, min(NR, N - j0), block + ((<usize>j0 * <usize>kc) << 2));
  }
}

/** C[m0..m1, n0..n1] = beta * C (0 when beta is 0) + bias[i]: the K = 0 or alpha = 0 case. */
function scaleRegion(c: usize, ldc: usize, m0: i32, m1: i32, n0: i32, n1: i32, beta: f32, bias: usize): void {
  for (let i = m0; i < m1; i++) {
    const bv: f32 = bias ? load<f32>(bias + (<usize>i << 2)) : 0;
    const row = c + <usize>i * ldc;
    for (let j = n0; j < n1; j++) {
      const p = row + (<usize>j << 2);
      const y: f32 = beta == 0 ? bv : beta * load<f32>(p) + bv;
      store<f32>(p, clampNow ? min(max(y, clampLo), clampHi) : y);
    }
  }
}

/**
 * C[m0..m1, n0..n1] = alpha * op(A) @ op(B) + beta * C + bias (bias[i] per row i; bias = 0 for
 * none), op(A) pre-packed by gemm_pack_a (pa), op(B) pre-packed by gemm_pack_b (pb) or, when pb
 * is 0, read from b (transB, ldb): in place, or packed into scratch block by block (see
 * `direct` below; both give bit-identical results). m0 must be a multiple
 * of gemm_mr(), and n0 of gemm_nr() when pb is given. scratch: gemm_tile_scratch_bytes(K,
 * n1 - n0, pb != 0) bytes, 16-byte aligned, private to the caller. ldc in elements.
 */
export function gemm_tile(
  M: i32, N: i32, K: i32, alpha: f32, pa: usize, pb: usize, transB: bool, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, m0: i32, m1: i32, n0: i32, n1: i32, bias: usize, scratch: usize,
): void {
  gemm_tile_clamped(M, N, K, alpha, pa, pb, transB, b, ldb, beta, c, ldc, m0, m1, n0, n1, bias, scratch, false, 0, 0);
}

/** gemm_tile whose results are clamped to [lo, hi] when `clamp` (a fused ReLU / ReLU6). */
export function gemm_tile_clamped(
  M: i32, N: i32, K: i32, alpha: f32, pa: usize, pb: usize, transB: bool, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, m0: i32, m1: i32, n0: i32, n1: i32, bias: usize, scratch: usize,
  clamp: bool, lo: f32, hi: f32,
): void {
  clampLo = lo;
  clampHi = hi;
  clampNow = false;
  gemmTileBody(M, N, K, alpha, pa, pb, transB, b, ldb, beta, c, ldc, m0, m1, n0, n1, bias, scratch, clamp);
  clampNow = false;
}

function gemmTileBody(
  M: i32, N: i32, K: i32, alpha: f32, pa: usize, pb: usize, transB: bool, b: usize, ldb: i32,
  beta: f32, c: usize, ldc: i32, m0: i32, m1: i32, n0: i32, n1: i32, bias: usize, scratch: usize,
  clamp: bool,
): void {
  if (m0 >= m1 || n0 >= n1) return;
  const ldcb: usize = <usize>ldc << 2;
  if (K <= 0 || alpha == 0) {
    clampNow = clamp;
    scaleRegion(c, ldcb, m0, m1, n0, n1, beta, bias);
    return;
  }
  const kcb = kBlock(K);
  const Mp = roundUp(M, MR);
  const Np = roundUp(N, NR);
  const tile = scratch;
  const bbuf = scratch + TILE_BYTES;
  // B read in place (no packing) when it is stored [K, N] and few rows of A reuse each B panel:
  // full panels step through B's rows, only a ragged last panel is packed (so nothing is read
  // past B's end). Measured: up to 1.3x faster for M <= 256 (conv layers: M = out channels),
  // 1.3x slower at M >= 1024, where the strided panels are re-read for many row blocks. Not
  // when B's row stride is a multiple of 1 KiB: the kc rows of a panel then fall into a few L1
  // sets and evict each other (M = 16, N = K = 1024: 27 GFLOP/s in place, 38 packed).
  const direct = !pb && !transB && m1 - m0 <= DIRECT_MAX_M && (ldb & 255) != 0;
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = min(NC, n1 - jc);
    for (let k0 = 0; k0 < K; k0 += kcb) {
      const kc = min(kcb, K - k0);
      let bBlock: usize;
      if (pb) {
        bBlock = pb + ((<usize>k0 * <usize>Np + <usize>jc * <usize>kc) << 2);
      } else if (direct) {
        bBlock = b + ((<usize>k0 * <usize>ldb + <usize>jc) << 2);
        const full = nc & ~(NR - 1);
        if (full < nc) packBPanel(false, b, <usize>ldb, k0, kc, jc + full, nc - full, bbuf);
      } else if (!transB) {
        packBRows(b, <usize>ldb, k0, kc, jc, nc, bbuf);
        bBlock = bbuf;
      } else {
        for (let jr = 0; jr < nc; jr += NR) packBPanel(transB, b, <usize>ldb, k0, kc, jc + jr, min(NR, nc - jr), bbuf + ((<usize>jr * <usize>kc) << 2));
        bBlock = bbuf;
      }
      const betaK: f32 = k0 == 0 ? beta : 1;
      const biasK: usize = k0 == 0 ? bias : 0;
      clampNow = clamp && k0 + kc >= K;
      const aBlock = pa + ((<usize>k0 * <usize>Mp) << 2);
      const panelA: usize = (<usize>MR * <usize>kc) << 2;
      const panelB: usize = (<usize>NR * <usize>kc) << 2;
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = min(MC, m1 - ic);
        const aMacro = aBlock + ((<usize>ic * <usize>kc) << 2);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          let bPanel: usize;
          let bs: usize;
          if (!direct) {
            bPanel = bBlock + <usize>(jr / NR) * panelB;
            bs = <usize>NR << 2;
          } else if (nr == NR) {
            bPanel = bBlock + (<usize>jr << 2);
            bs = <usize>ldb << 2;
          } else {
            bPanel = bbuf;
            bs = <usize>NR << 2;
          }
          const cCol = c + (<usize>(jc + jr) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const i = ic + ir;
            microRows(min(MR, mc - ir), kc, aMacro + <usize>(ir / MR) * panelA, bPanel, bs, cCol + <usize>i * ldcb, ldcb, alpha, betaK, biasK ? biasK + (<usize>i << 2) : 0, nr, tile);
          }
        }
      }
    }
  }
}

/**
 * gemm_tile with the fixed arguments read from a 64-byte descriptor at desc (for thread-pool
 * tasks, whose argument count is limited): i32 slots 0 M, 1 N, 2 K, 3 alpha (f32), 4 pa, 5 pb,
 * 6 transB, 7 b, 8 ldb, 9 beta (f32), 10 c, 11 ldc, 12 bias, 13 clamp (0/1), 14 clamp low
 * (f32), 15 clamp high (f32).
 */
export function gemm_tile_desc(desc: usize, m0: i32, m1: i32, n0: i32, n1: i32, scratch: usize): void {
  gemm_tile_clamped(
    load<i32>(desc), load<i32>(desc, 4), load<i32>(desc, 8), load<f32>(desc, 12),
    <usize>load<u32>(desc, 16), <usize>load<u32>(desc, 20), load<i32>(desc, 24) != 0, <usize>load<u32>(desc, 28), load<i32>(desc, 32),
    load<f32>(desc, 36), <usize>load<u32>(desc, 40), load<i32>(desc, 44), m0, m1, n0, n1, <usize>load<u32>(desc, 48), scratch,
    load<i32>(desc, 52) != 0, load<f32>(desc, 56), load<f32>(desc, 60),
  );
}

/**
 * C = alpha * op(A) @ op(B) + beta * C + bias (per row; 0 for none), single-threaded: packs
 * op(A) into scratch, then gemm_tile over the whole of C. Leading dimensions in elements.
 * beta = 0 ignores C's prior contents. scratch: gemm_scratch_bytes(M, N, K) bytes.
 */
export function gemm_f32(
  transA: bool, transB: bool, M: i32, N: i32, K: i32, alpha: f32, a: usize, lda: i32,
  b: usize, ldb: i32, beta: f32, c: usize, ldc: i32, bias: usize, scratch: usize,
): void {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0) {
    scaleRegion(c, <usize>ldc << 2, 0, M, 0, N, beta, bias);
    return;
  }
  const pa = scratch;
  gemm_pack_a(transA, M, K, a, lda, pa);
  gemm_tile(M, N, K, alpha, pa, 0, transB, b, ldb, beta, c, ldc, 0, M, 0, N, bias, pa + gemm_packed_a_bytes(M, K));
}

/**
 * Rows [m0, m1) of the products i0 .. i1-1 of a batch, each as an independent gemm_f32 (op(A)'s
 * rows packed into scratch, B read or packed per block): a thread-pool task that splits a
 * batch of products, or one product by rows (m0 a multiple of gemm_mr() keeps every row's
 * arithmetic as in the whole product; any m0 gives the same result anyway). The fixed arguments
 * come from a 64-byte descriptor at desc, i32 slots: 0 flags (1 transA, 2 transB), 1 M, 2 N,
 * 3 K, 4 alpha (f32), 5 a, 6 lda, 7 b, 8 ldb, 9 beta (f32), 10 c, 11 ldc, 12 / 13 / 14 byte
 * strides between the A / B / C of consecutive products, 15 bias (per row, M floats, or 0).
 * scratch: gemm_scratch_bytes(m1 - m0, N, K) bytes, private to the caller.
 */
export function gemm_batch_desc(desc: usize, i0: i32, i1: i32, m0: i32, m1: i32, scratch: usize): void {
  const flags = load<i32>(desc);
  const transA = (flags & 1) != 0;
  const transB = (flags & 2) != 0;
  const N = load<i32>(desc, 8), K = load<i32>(desc, 12);
  const alpha = load<f32>(desc, 16);
  const a = <usize>load<u32>(desc, 20), lda = load<i32>(desc, 24);
  const b = <usize>load<u32>(desc, 28), ldb = load<i32>(desc, 32);
  const beta = load<f32>(desc, 36);
  const c = <usize>load<u32>(desc, 40), ldc = load<i32>(desc, 44);
  const sa = <usize>load<u32>(desc, 48), sb = <usize>load<u32>(desc, 52), sc = <usize>load<u32>(desc, 56);
  const bias = <usize>load<u32>(desc, 60);
  if (m0 >= m1) return;
  const aRows: usize = transA ? <usize>m0 << 2 : (<usize>m0 * <usize>lda) << 2;
  const cRows: usize = (<usize>m0 * <usize>ldc) << 2;
  const biasRows: usize = bias ? bias + (<usize>m0 << 2) : 0;
  for (let i = i0; i < i1; i++) {
    const ii = <usize>i;
    gemm_f32(transA, transB, m1 - m0, N, K, alpha, a + ii * sa + aRows, lda, b + ii * sb, ldb, beta, c + ii * sc + cRows, ldc, biasRows, scratch);
  }
}
