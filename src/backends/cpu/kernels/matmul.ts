/**
 * General matrix multiply for the CPU reference backend.
 *
 * `gemm` follows the BLAS convention on row-major storage: C[M,N] = alpha * op(A) @ op(B) + beta * C.
 * It is written the way optimised BLAS libraries are (Goto / BLIS blocking), scaled down to what
 * plain JavaScript can exploit:
 *
 *  - the K dimension is cut into blocks of at most KC_MAX, M into blocks of at most MC_MAX and N
 *    into blocks of at most NC_MAX;
 *  - each block of op(B) is packed into `packB` as micro-panels of NR columns (k-major, NR values per
 *    k), each block of op(A) into `packA` as micro-panels of MR rows (MR values per k). Packing
 *    resolves the transposes once, pads ragged edges with zeros, and turns every input type into
 *    Float64Array, so the hot loop is monomorphic and reads two sequential streams;
 *  - the micro-kernel keeps an MR x NR (4 x 4) block of C in local variables for a whole K block.
 *
 * Packing into float64 is deliberate: loading float32 elements costs a conversion per load, which
 * measured ~2x slower than the extra memory traffic of doubles. Accumulation is therefore float64
 * within each K block (at most KC_MAX terms) for both element types.
 *
 * Larger register tiles (4x8, 8x4, 6x8, 8x8) and unrolling over k were measured and were no faster
 * (V8 spills accumulators beyond ~16 live doubles, and the loop is bound by instruction count,
 * mostly the bounds and map checks on the two load streams), so 4x4 is used: it also wastes the
 * least work on ragged edges. Measured ~4.5-5 GFLOP/s single-threaded (float32 and float64 alike)
 * against ~1.2 for a naive i-k-j loop.
 */
import type { FloatArray } from './types.js';

const MR = 4;
const NR = 4;
const KC_MAX = 384;
const MC_MAX = 64;
const NC_MAX = 2048;
/** Problems with at most this many multiply-adds, or with M or N equal to 1, skip the packing. */
const SMALL_WORK = 4096;

let packA = new Float64Array(MC_MAX * KC_MAX);
let packB = new Float64Array(0);
const edgeTile = new Float64Array(MR * NR);

/**
 * C[M,N] = alpha * op(A) @ op(B) + beta * C, all row-major and contiguous.
 *
 * op(A) is [M,K]: A is stored as [M,K] (leading dimension K) or, when `transA`, as [K,M]
 * (leading dimension M). op(B) is [K,N]: B is stored as [K,N] or, when `transB`, as [N,K].
 * C is [M,N] with leading dimension N. The offsets give where each matrix starts in its array.
 * With beta = 0 the prior contents of C are ignored entirely (NaN or Infinity there do not leak).
 * A, B and C may be any mix of Float32Array and Float64Array; C must not overlap A or B.
 */
export function gemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  a: FloatArray,
  aOffset: number,
  b: FloatArray,
  bOffset: number,
  beta: number,
  c: FloatArray,
  cOffset: number,
): void {
  if (M <= 0 || N <= 0) return;
  const size = M * N;
  if (beta === 0) c.fill(0, cOffset, cOffset + size);
  else if (beta !== 1) scale(c, cOffset, size, beta);
  if (K <= 0 || alpha === 0) return;

  if (M === 1 || N === 1 || M * N * K <= SMALL_WORK) {
    gemmSmall(transA, transB, M, N, K, alpha, a, aOffset, b, bOffset, c, cOffset);
    return;
  }

  // Balanced block sizes: avoid a tiny trailing block (e.g. K = 288 -> 2 x 144, not 256 + 32).
  const kBlocks = Math.ceil(K / KC_MAX);
  const KC = Math.ceil(K / kBlocks);
  const mBlocks = Math.ceil(M / MC_MAX);
  const MC = Math.ceil(Math.ceil(M / mBlocks) / MR) * MR;
  const nBlocks = Math.ceil(N / NC_MAX);
  const NC = Math.ceil(Math.ceil(N / nBlocks) / NR) * NR;

  if (packA.length < MC * KC) packA = new Float64Array(MC * KC);
  if (packB.length < NC * KC) packB = new Float64Array(NC * KC);
  const pa = packA;
  const pb = packB;

  for (let jc = 0; jc < N; jc += NC) {
    const nc = Math.min(NC, N - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = Math.min(KC, K - pc);
      if (transB) packBTrans(b, bOffset, K, jc, nc, pc, kc, pb);
      else packBNormal(b, bOffset, N, jc, nc, pc, kc, pb);
      for (let ic = 0; ic < M; ic += MC) {
        const mc = Math.min(MC, M - ic);
        if (transA) packATrans(a, aOffset, M, ic, mc, pc, kc, pa);
        else packANormal(a, aOffset, K, ic, mc, pc, kc, pa);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          const bi = jr * kc;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = Math.min(MR, mc - ir);
            microKernel4x4(kc, pa, ir * kc, pb, bi, c, cOffset + (ic + ir) * N + jc + jr, N, alpha, mr, nr);
          }
        }
      }
    }
  }
}

/**
 * `batch` independent products C_i = op(A_i) @ op(B_i) (alpha 1, beta 0), with A_i, B_i, C_i
 * stored back to back: strides M*K, K*N and M*N elements (op and storage as in `gemm`).
 */
export function batchedGemm(
  batch: number,
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  a: FloatArray,
  b: FloatArray,
  c: FloatArray,
): void {
  const sa = M * K;
  const sb = K * N;
  const sc = M * N;
  for (let i = 0; i < batch; i++) gemm(transA, transB, M, N, K, 1, a, i * sa, b, i * sb, 0, c, i * sc);
}

function scale(c: FloatArray, offset: number, size: number, s: number): void {
  const end = offset + size;
  for (let i = offset; i < end; i++) c[i] *= s;
}

/**
 * Unpacked path for tiny or vector-shaped products, where packing would cost as much as the
 * arithmetic. Accumulates alpha * op(A) @ op(B) into C (already scaled by beta).
 */
function gemmSmall(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  a: FloatArray,
  aOffset: number,
  b: FloatArray,
  bOffset: number,
  c: FloatArray,
  cOffset: number,
): void {
  // Element (i, k) of op(A) is a[aOffset + i * ars + k * aks]; (k, j) of op(B) is b[bOffset + k * bks + j * bjs].
  const ars = transA ? 1 : K;
  const aks = transA ? M : 1;
  const bks = transB ? 1 : N;
  const bjs = transB ? K : 1;
  if (!transB) {
    // Row-update form: C[i, :] += (alpha * A[i, k]) * B[k, :], streaming rows of B.
    for (let i = 0; i < M; i++) {
      const cRow = cOffset + i * N;
      for (let k = 0; k < K; k++) {
        const aik = alpha * a[aOffset + i * ars + k * aks];
        const bRow = bOffset + k * bks;
        for (let j = 0; j < N; j++) c[cRow + j] += aik * b[bRow + j];
      }
    }
  } else {
    // Dot-product form: rows of the stored B are contiguous along k.
    for (let i = 0; i < M; i++) {
      const aRow = aOffset + i * ars;
      const cRow = cOffset + i * N;
      for (let j = 0; j < N; j++) {
        const bCol = bOffset + j * bjs;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[aRow + k * aks] * b[bCol + k];
        c[cRow + j] += alpha * s;
      }
    }
  }
}

/** Packs op(A)[ic:ic+mc, pc:pc+kc] for A stored [M,K]: panel r holds rows ic+r*MR.., MR values per k. */
function packANormal(a: FloatArray, aOffset: number, K: number, ic: number, mc: number, pc: number, kc: number, pa: Float64Array): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const base = ir * kc;
    const mr = Math.min(MR, mc - ir);
    for (let i = 0; i < mr; i++) {
      const src = aOffset + (ic + ir + i) * K + pc;
      let d = base + i;
      for (let p = 0; p < kc; p++, d += MR) pa[d] = a[src + p];
    }
    for (let i = mr; i < MR; i++) {
      let d = base + i;
      for (let p = 0; p < kc; p++, d += MR) pa[d] = 0;
    }
  }
}

/** As `packANormal` for A stored transposed, [K,M]. */
function packATrans(a: FloatArray, aOffset: number, M: number, ic: number, mc: number, pc: number, kc: number, pa: Float64Array): void {
  for (let ir = 0; ir < mc; ir += MR) {
    let d = ir * kc;
    const mr = Math.min(MR, mc - ir);
    let src = aOffset + pc * M + ic + ir;
    if (mr === MR) {
      for (let p = 0; p < kc; p++, src += M, d += MR) {
        pa[d] = a[src];
        pa[d + 1] = a[src + 1];
        pa[d + 2] = a[src + 2];
        pa[d + 3] = a[src + 3];
      }
    } else {
      for (let p = 0; p < kc; p++, src += M, d += MR) {
        for (let i = 0; i < mr; i++) pa[d + i] = a[src + i];
        for (let i = mr; i < MR; i++) pa[d + i] = 0;
      }
    }
  }
}

/** Packs op(B)[pc:pc+kc, jc:jc+nc] for B stored [K,N]: panel r holds columns jc+r*NR.., NR values per k. */
function packBNormal(b: FloatArray, bOffset: number, N: number, jc: number, nc: number, pc: number, kc: number, pb: Float64Array): void {
  for (let jr = 0; jr < nc; jr += NR) {
    let d = jr * kc;
    const nr = Math.min(NR, nc - jr);
    let src = bOffset + pc * N + jc + jr;
    if (nr === NR) {
      for (let p = 0; p < kc; p++, src += N, d += NR) {
        pb[d] = b[src];
        pb[d + 1] = b[src + 1];
        pb[d + 2] = b[src + 2];
        pb[d + 3] = b[src + 3];
      }
    } else {
      for (let p = 0; p < kc; p++, src += N, d += NR) {
        for (let j = 0; j < nr; j++) pb[d + j] = b[src + j];
        for (let j = nr; j < NR; j++) pb[d + j] = 0;
      }
    }
  }
}

/** As `packBNormal` for B stored transposed, [N,K]. */
function packBTrans(b: FloatArray, bOffset: number, K: number, jc: number, nc: number, pc: number, kc: number, pb: Float64Array): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const base = jr * kc;
    const nr = Math.min(NR, nc - jr);
    for (let j = 0; j < nr; j++) {
      const src = bOffset + (jc + jr + j) * K + pc;
      let d = base + j;
      for (let p = 0; p < kc; p++, d += NR) pb[d] = b[src + p];
    }
    for (let j = nr; j < NR; j++) {
      let d = base + j;
      for (let p = 0; p < kc; p++, d += NR) pb[d] = 0;
    }
  }
}

/**
 * C[cOff.., 4x4 tile with leading dimension ldc] += alpha * (packed A panel) @ (packed B panel),
 * writing only the top-left mr x nr part (ragged edges; the packed panels are zero-padded).
 */
function microKernel4x4(
  kc: number,
  pa: Float64Array,
  ai: number,
  pb: Float64Array,
  bi: number,
  c: FloatArray,
  cOff: number,
  ldc: number,
  alpha: number,
  mr: number,
  nr: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0; p < kc; p++) {
    const a0 = pa[ai], a1 = pa[ai + 1], a2 = pa[ai + 2], a3 = pa[ai + 3];
    const b0 = pb[bi], b1 = pb[bi + 1], b2 = pb[bi + 2], b3 = pb[bi + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
    ai += 4;
    bi += 4;
  }
  if (mr === MR && nr === NR) {
    let o = cOff;
    c[o] += alpha * c00; c[o + 1] += alpha * c01; c[o + 2] += alpha * c02; c[o + 3] += alpha * c03;
    o += ldc;
    c[o] += alpha * c10; c[o + 1] += alpha * c11; c[o + 2] += alpha * c12; c[o + 3] += alpha * c13;
    o += ldc;
    c[o] += alpha * c20; c[o + 1] += alpha * c21; c[o + 2] += alpha * c22; c[o + 3] += alpha * c23;
    o += ldc;
    c[o] += alpha * c30; c[o + 1] += alpha * c31; c[o + 2] += alpha * c32; c[o + 3] += alpha * c33;
    return;
  }
  const t = edgeTile;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  for (let i = 0; i < mr; i++) {
    const o = cOff + i * ldc;
    for (let j = 0; j < nr; j++) c[o + j] += alpha * t[i * NR + j];
  }
}
