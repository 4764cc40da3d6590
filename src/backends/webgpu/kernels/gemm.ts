/**
 * A tiled GEMM program, Y[batch] = A[batch] (M x K) * B[batch] (K x N), that reads its operands
 * and writes its result through WGSL functions the caller supplies. Matmul (with transposes) and
 * the convolutions as implicit GEMMs (im2col addressing computed on the fly, never stored) are
 * all instances of it.
 *
 * Each workgroup of 16 x 16 threads computes a 64 x 64 tile of Y; each thread a 4 x 4 block held
 * in registers (four vec4 rows). K advances in steps of 16 through tiles of A and B staged in
 * workgroup memory as vec4s, so each thread reads its 4 rows of A and 4 columns of B as one
 * 16-byte load each.
 */
import type { Program, WgslScalar } from '../program.js';

export const TILE = 64;
const TILE_K = 16;
const THREADS = 16;
const PER_THREAD = TILE / THREADS;

export interface GemmSpec {
  name: string;
  inputs: readonly (readonly [string, WgslScalar])[];
  outputs: readonly (readonly [string, WgslScalar])[];
  /** Extra uniforms besides M, N, K and batch. */
  uniforms: readonly (readonly [string, WgslScalar, number])[];
  M: number;
  N: number;
  K: number;
  batch: number;
  /**
   * Split-K: the K range is cut into this many slices, each a workgroup of its own (so small
   * M x N products with a long K still fill the GPU); `store` then sees the slice as `split`
   * and must write partial sums that the caller adds up. Default 1.
   */
  splits?: number;
  /**
   * WGSL defining `fn loadA(batch: u32, m: u32, k: u32) -> f32`, `fn loadB(batch: u32, k: u32,
   * n: u32) -> f32` (called only with m < M, k < K, n < N) and `fn store(batch: u32, m: u32,
   * n: u32, v: f32)` (called for m < M, n < N), plus any helpers.
   */
  code: string;
}

export function gemmProgram(g: GemmSpec): Program {
  const loads = (TILE * TILE_K) / (THREADS * THREADS);
  const splits = g.splits ?? 1;
  const kPerSplit = Math.ceil(g.K / splits / TILE_K) * TILE_K;
  return {
    name: g.name,
    inputs: g.inputs,
    outputs: g.outputs,
    uniforms: [['M', 'u32', g.M], ['N', 'u32', g.N], ['K', 'u32', g.K], ['splits', 'u32', splits], ['kPerSplit', 'u32', kPerSplit], ...g.uniforms],
    code: `var<private> split: u32;
${g.code}
var<workgroup> As: array<vec4<f32>, ${(TILE_K * TILE) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(TILE_K * TILE) / 4}>;
@compute @workgroup_size(${THREADS}, ${THREADS}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let batch = wg.z / P.splits;
  // A let for the loop bounds: a private var would not count as workgroup-uniform for the barriers.
  let slice = wg.z % P.splits;
  split = slice;
  let kBegin = slice * P.kPerSplit;
  let kEnd = min(P.K, kBegin + P.kPerSplit);
  let row0 = wg.y * ${TILE}u;
  let col0 = wg.x * ${TILE}u;
  let tid = lid.y * ${THREADS}u + lid.x;
  // acc[i] holds row i of this thread's 4 x 4 block.
  var acc: array<vec4<f32>, ${PER_THREAD}>;
  for (var k0 = kBegin; k0 < kEnd; k0 += ${TILE_K}u) {
    for (var l = 0u; l < ${loads}u; l++) {
      let e = tid + l * ${THREADS * THREADS}u;
      let am = e / ${TILE_K}u;
      let ak = e % ${TILE_K}u;
      var a = 0.0;
      if (row0 + am < P.M && k0 + ak < kEnd) { a = loadA(batch, row0 + am, k0 + ak); }
      As[ak * ${TILE / 4}u + am / 4u][am % 4u] = a;
      let bk = e / ${TILE}u;
      let bn = e % ${TILE}u;
      var b = 0.0;
      if (k0 + bk < kEnd && col0 + bn < P.N) { b = loadB(batch, k0 + bk, col0 + bn); }
      Bs[bk * ${TILE / 4}u + bn / 4u][bn % 4u] = b;
    }
    workgroupBarrier();
    for (var k = 0u; k < ${TILE_K}u; k++) {
      let a = As[k * ${TILE / 4}u + lid.y];
      let b = Bs[k * ${TILE / 4}u + lid.x];
      for (var i = 0u; i < ${PER_THREAD}u; i++) { acc[i] = fma(vec4<f32>(a[i]), b, acc[i]); }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${PER_THREAD}u; i++) {
    let m = row0 + lid.y * ${PER_THREAD}u + i;
    for (var j = 0u; j < ${PER_THREAD}u; j++) {
      let n = col0 + lid.x * ${PER_THREAD}u + j;
      if (m < P.M && n < P.N) { store(batch, m, n, acc[i][j]); }
    }
  }
}`,
    workgroups: [Math.ceil(g.N / TILE), Math.ceil(g.M / TILE), g.batch * splits],
  };
}
