// The WebAssembly GEMM (assembly/gemm.ts via src/backends/cpu/wasm/gemm.ts) against the
// TypeScript reference twin (src/backends/cpu/kernels/matmul.ts), float32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import { batchedGemm, gemm } from '../../../../src/backends/cpu/kernels/matmul.js';
import type { WasmKernels } from '../../../../src/backends/cpu/wasm/module.js';
import { GEMM_DESC_BYTES, gemmExports, u32, wasmBatchedGemm, wasmGemm, writeGemmDesc } from '../../../../src/backends/cpu/wasm/gemm.js';
import { assertClose } from '../kernels/util.js';
import { TOL, kernels, randomF32 } from './util.js';

/** Per element of C: |alpha| * sum_k |op(A)[i,k] * op(B)[k,j]| + |beta * C[i,j]|, the scale of its rounding error. */
function errorScale(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  a: Float32Array, aOff: number, b: Float32Array, bOff: number, beta: number, c: Float32Array, cOff: number,
): Float64Array {
  const s = new Float64Array(M * N);
  const absB = new Float64Array(K * N); // |op(B)| as [K, N]
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) absB[k * N + j] = Math.abs(transB ? b[bOff + j * K + k] : b[bOff + k * N + j]);
  for (let i = 0; i < M; i++) {
    const row = s.subarray(i * N, (i + 1) * N);
    for (let k = 0; k < K; k++) {
      const av = Math.abs(transA ? a[aOff + k * M + i] : a[aOff + i * K + k]);
      if (av === 0) continue;
      for (let j = 0; j < N; j++) row[j] += av * absB[k * N + j];
    }
    for (let j = 0; j < N; j++) row[j] = Math.abs(alpha) * row[j] + (beta === 0 ? 0 : Math.abs(beta * c[cOff + i * N + j]));
  }
  return s;
}

function runCase(k: WasmKernels, rng: Rng, transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number, beta: number): void {
  const aOff = rng.int(4), bOff = rng.int(4), cOff = rng.int(4);
  const a = randomF32(rng, aOff + M * K + 3);
  const b = randomF32(rng, bOff + K * N + 3);
  const c = randomF32(rng, cOff + M * N + 3);
  if (beta === 0) for (let i = cOff; i < cOff + M * N; i++) c[i] = i % 2 ? NaN : Infinity; // must be ignored
  const before = c.slice();
  const expected = c.slice();
  gemm(transA, transB, M, N, K, alpha, a, aOff, b, bOff, beta, expected, cOff);
  wasmGemm(k, transA, transB, M, N, K, alpha, a, aOff, b, bOff, beta, c, cOff);
  const what = `wasm gemm(${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}, M=${M}, N=${N}, K=${K}, alpha=${alpha}, beta=${beta})`;
  const scale = errorScale(transA, transB, M, N, K, alpha, a, aOff, b, bOff, beta, before, cOff);
  assertClose(c.subarray(cOff, cOff + M * N), expected.subarray(cOff, cOff + M * N), TOL, what, scale);
  for (let i = 0; i < cOff; i++) assert.equal(c[i], before[i], `${what}: wrote before C`);
  for (let i = cOff + M * N; i < c.length; i++) assert.equal(c[i], before[i], `${what}: wrote after C`);
}

const ODD = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 33, 65];

test('wasm gemm matches the reference: all transposes, odd sizes, alpha/beta, offsets', () => {
  const k = kernels();
  const rng = new Rng(11);
  for (let t = 0; t < 4; t++) {
    const transA = (t & 1) !== 0;
    const transB = (t & 2) !== 0;
    for (let r = 0; r < 40; r++) {
      const M = ODD[rng.int(ODD.length)];
      const N = ODD[rng.int(ODD.length)];
      const K = ODD[rng.int(ODD.length)];
      const alpha = [1, -0.5, 2.25][rng.int(3)];
      const beta = [0, 1, 0.75][rng.int(3)];
      runCase(k, rng, transA, transB, M, N, K, alpha, beta);
    }
  }
});

test('wasm gemm across K blocks, N blocks and many tiles (257, 513, 2100)', () => {
  const k = kernels();
  const rng = new Rng(12);
  const shapes: [number, number, number][] = [
    [257, 65, 513], // 3 K blocks, ragged M and N
    [65, 257, 257], // 2 K blocks
    [33, 2100, 7], // two NC column blocks
    [1, 257, 300], // a single row
    [300, 1, 257], // a single column
    [81, 81, 1024], // 4 K blocks, exactly divisible
  ];
  for (const [M, N, K] of shapes) {
    for (let t = 0; t < 4; t++) runCase(k, rng, (t & 1) !== 0, (t & 2) !== 0, M, N, K, t === 3 ? -1.5 : 1, t === 2 ? 0.5 : 0);
  }
});

test('wasm gemm: K = 0 and alpha = 0 give beta * C (beta = 0 clears NaN)', () => {
  const k = kernels();
  const c = new Float32Array([1, 2, NaN, 4, 5, 6]);
  wasmGemm(k, false, false, 2, 3, 0, 1, new Float32Array(0), 0, new Float32Array(0), 0, 0.5, c, 0);
  assert.deepEqual([...c], [0.5, 1, NaN, 2, 2.5, 3]);
  wasmGemm(k, false, false, 2, 3, 0, 1, new Float32Array(0), 0, new Float32Array(0), 0, 0, c, 0);
  assert.deepEqual([...c], [0, 0, 0, 0, 0, 0]);
  const a = new Float32Array([NaN, 1, 2, 3]);
  const c2 = new Float32Array([1, 2, 3, 4]);
  wasmGemm(k, false, false, 2, 2, 2, 0, a, 0, a, 0, 2, c2, 0);
  assert.deepEqual([...c2], [2, 4, 6, 8]);
});

test('wasm batchedGemm matches the reference batchedGemm', () => {
  const k = kernels();
  const rng = new Rng(13);
  for (const [batch, M, N, K] of [[3, 7, 9, 33], [1, 65, 17, 5], [4, 1, 13, 8], [2, 20, 20, 300]]) {
    for (let t = 0; t < 4; t++) {
      const transA = (t & 1) !== 0;
      const transB = (t & 2) !== 0;
      const a = randomF32(rng, batch * M * K);
      const b = randomF32(rng, batch * K * N);
      const expected = new Float32Array(batch * M * N);
      batchedGemm(batch, transA, transB, M, N, K, a, b, expected);
      const got = wasmBatchedGemm(k, batch, transA, transB, M, N, K, a, b);
      const scale = new Float64Array(batch * M * N);
      for (let i = 0; i < batch; i++) {
        scale.set(errorScale(transA, transB, M, N, K, 1, a, i * M * K, b, i * K * N, 0, got, 0), i * M * N);
      }
      assertClose(got, expected, TOL, `wasm batchedGemm(batch=${batch}, M=${M}, N=${N}, K=${K}, ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'})`, scale);
    }
  }
});

test('split API: packed A + column/row ranges (packed or raw B) compose to gemm_f32 exactly, bias per row', () => {
  const k = kernels();
  const e = gemmExports(k);
  const rng = new Rng(14);
  const mr = e.gemm_mr();
  const nr = e.gemm_nr();
  for (const [M, N, K, transA, transB] of [[37, 45, 300, false, false], [23, 70, 9, true, true], [mr * 3, nr * 5, 513, false, true]] as [number, number, number, boolean, boolean][]) {
    const arena = k.arena;
    arena.reset();
    const a = arena.copyIn(randomF32(rng, M * K));
    const b = arena.copyIn(randomF32(rng, K * N));
    const bias = arena.copyIn(randomF32(rng, M));
    const c0 = arena.copyIn(randomF32(rng, M * N));
    const lda = transA ? M : K;
    const ldb = transB ? K : N;
    const tA = transA ? 1 : 0;
    const tB = transB ? 1 : 0;
    const whole = arena.alloc(M * N * 4);
    arena.f32(whole, M * N).set(arena.f32(c0, M * N));
    const scratch = arena.alloc(u32(e.gemm_scratch_bytes(M, N, K)));
    e.gemm_f32(tA, tB, M, N, K, 0.5, a, lda, b, ldb, 0.25, whole, N, bias, scratch);
    const expected = arena.f32(whole, M * N).slice();

    // Reference for the bias: gemm without it, plus bias per row.
    const ref = arena.f32(c0, M * N).slice();
    gemm(transA, transB, M, N, K, 0.5, arena.f32(a, M * K).slice(), 0, arena.f32(b, K * N).slice(), 0, 0.25, ref, 0);
    const bv = arena.f32(bias, M);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) ref[i * N + j] += bv[i];
    assertClose(expected, ref, 1e-4, `gemm_f32 with bias M=${M} N=${N} K=${K}`);

    const pa = arena.alloc(u32(e.gemm_packed_a_bytes(M, K)));
    e.gemm_pack_a(tA, M, K, a, lda, pa);
    const pb = arena.alloc(u32(e.gemm_packed_b_bytes(K, N)));
    e.gemm_pack_b(tB, K, N, b, ldb, pb);
    const out = arena.alloc(M * N * 4);
    const tileScratch = arena.alloc(u32(e.gemm_tile_scratch_bytes(K, N, 0)));
    const reset = (): void => arena.f32(out, M * N).set(arena.f32(c0, M * N));
    const check = (what: string): void => assert.deepEqual(arena.f32(out, M * N).slice(), expected, `${what} M=${M} N=${N} K=${K}`);

    // Columns split over "threads", each packing its own part of B (arbitrary n0).
    reset();
    const cuts = [0, 1, Math.floor(N / 3), N - 2, N].filter((x, i, xs) => x >= 0 && (i === 0 || x > xs[i - 1]));
    for (let s = 0; s + 1 < cuts.length; s++) e.gemm_tile(M, N, K, 0.5, pa, 0, tB, b, ldb, 0.25, out, N, 0, M, cuts[s], cuts[s + 1], bias, tileScratch);
    check('column ranges, raw B');

    // Rows split (m0 multiples of MR) over a packed B.
    reset();
    for (let m0 = 0; m0 < M; m0 += 2 * mr) e.gemm_tile(M, N, K, 0.5, pa, pb, 0, 0, 0, 0.25, out, N, m0, Math.min(M, m0 + 2 * mr), 0, N, bias, tileScratch);
    check('row ranges, packed B');

    // A 2-D grid over packed B (n0 multiples of NR).
    reset();
    for (let m0 = 0; m0 < M; m0 += mr) {
      for (let n0 = 0; n0 < N; n0 += 3 * nr) e.gemm_tile(M, N, K, 0.5, pa, pb, 0, 0, 0, 0.25, out, N, m0, Math.min(M, m0 + mr), n0, Math.min(N, n0 + 3 * nr), bias, tileScratch);
    }
    check('grid, packed B');

    // The same through descriptors (what a thread-pool task would pass): raw B, column ranges.
    reset();
    const desc = arena.alloc(GEMM_DESC_BYTES);
    writeGemmDesc(k, desc, { M, N, K, alpha: 0.5, pa, pb: 0, transB, b, ldb, beta: 0.25, c: out, ldc: N, bias });
    for (let s = 0; s + 1 < cuts.length; s++) e.gemm_tile_desc(desc, 0, M, cuts[s], cuts[s + 1], tileScratch);
    check('descriptor, column ranges');
  }
});
