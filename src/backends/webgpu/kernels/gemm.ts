/**
 * A tiled GEMM program, Y[batch] = A[batch] (M x K) * B[batch] (K x N), that reads its operands
 * and writes its result through WGSL functions the caller supplies. Matmul (with transposes) and
 * the convolutions as implicit GEMMs (im2col addressing computed on the fly, never stored) are
 * all instances of it.
 *
 * A workgroup of 16 x 16 threads computes a tile of Y: 64 x 64 (4 x 4 values per thread) or,
 * for products big enough to fill the GPU with them, 128 x 128 (8 x 8 per thread, half the
 * workgroup-memory reads and operand loads per multiply-add). K advances in steps of 16 through
 * tiles of A and B staged in workgroup memory as vec4s; a thread's rows are (i * 16 + ty) * 4 + q
 * and its columns (j * 16 + tx) * 4 + r, so neighbouring threads read neighbouring vec4s. The
 * next K tile's operands are loaded into registers while the current one is multiplied. The
 * inner loops are unrolled when the WGSL is generated, so the accumulators stay in registers.
 */
import type { Program, WgslElement, WgslScalar } from '../program.js';

/** The smaller tile edge (split-K sizing and tests use it). */
export const TILE = 64;
const TILE_K = 16;
const THREADS = 16;

export interface GemmSpec {
  name: string;
  /** Operand arrays; f16 ones are converted to f32 by the caller's load functions. */
  inputs: readonly (readonly [string, WgslElement])[];
  outputs: readonly (readonly [string, WgslElement])[];
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
  /** Constant WGSL blocks the code uses (see Program.shared), e.g. the math library. */
  shared?: readonly string[];
  /**
   * WGSL defining `fn loadA(batch: u32, m: u32, k: u32) -> f32`, `fn loadB(batch: u32, k: u32,
   * n: u32) -> f32` (called only with m < M, k < K, n < N) and `fn store(batch: u32, m: u32,
   * n: u32, v: f32)` (called for m < M, n < N), plus any helpers.
   */
  code: string;
}

/** Workgroups of 128 x 128 tiles a product needs before it uses them: fewer would leave SMs idle. */
const BIG_TILE_MIN_WORKGROUPS = 128;

let forcedTile: 64 | 128 | null = null;

/** Tests: force one tile size for every GEMM (null restores the automatic choice). */
export function forceGemmTile(tile: 64 | 128 | null): void {
  forcedTile = tile;
}

/** The tile edge for a product: 128 when its M and N are large enough to fill the GPU with 128 x 128 tiles. */
export function gemmTile(M: number, N: number, workgroupsPerTile: number): 64 | 128 {
  if (forcedTile) return forcedTile;
  const bigTiles = Math.ceil(M / 128) * Math.ceil(N / 128) * workgroupsPerTile;
  return M > 64 && N > 64 && bigTiles >= BIG_TILE_MIN_WORKGROUPS ? 128 : 64;
}

export function gemmProgram(g: GemmSpec): Program {
  const splits = g.splits ?? 1;
  const tile = gemmTile(g.M, g.N, g.batch * splits);
  const kPerSplit = Math.ceil(g.K / splits / TILE_K) * TILE_K;
  return {
    name: g.name,
    inputs: g.inputs,
    outputs: g.outputs,
    uniforms: [['M', 'u32', g.M], ['N', 'u32', g.N], ['K', 'u32', g.K], ['splits', 'u32', splits], ['kPerSplit', 'u32', kPerSplit], ...g.uniforms],
    code: `var<private> split: u32;
${g.code}`,
    shared: [...(g.shared ?? []), tiledMain(tile)],
    workgroups: [Math.ceil(g.N / tile), Math.ceil(g.M / tile), g.batch * splits],
  };
}

const mains = new Map<number, string>();

/** The entry point for a tile edge of 64 or 128, generated once (the same string each call). */
function tiledMain(tile: number): string {
  let main = mains.get(tile);
  if (!main) mains.set(tile, (main = generateTiledMain(tile)));
  return main;
}

/** The entry point for a tile edge of 64 or 128 (per-thread blocks of 4 x 4 or 8 x 8). */
function generateTiledMain(tile: number): string {
  const per = tile / THREADS; // values per thread along each edge
  const vecs = per / 4; // vec4s per thread along each edge
  const tileV = tile / 4; // vec4s along a tile edge
  const loads = (tile * TILE_K) / (THREADS * THREADS); // operand values each thread stages per K tile
  const lines: string[] = [];
  const emit = (s: string): void => void lines.push(s);

  emit(`var<workgroup> As: array<vec4<f32>, ${(TILE_K * tile) / 4}>;`);
  emit(`var<workgroup> Bs: array<vec4<f32>, ${(TILE_K * tile) / 4}>;`);
  emit(`@compute @workgroup_size(${THREADS}, ${THREADS}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u) {`);
  emit('  let batch = wg.z / P.splits;');
  emit('  // A let for the loop bounds: a private var would not count as workgroup-uniform for the barriers.');
  emit('  let slice = wg.z % P.splits;');
  emit('  split = slice;');
  emit('  let kBegin = slice * P.kPerSplit;');
  emit('  let kEnd = min(P.K, kBegin + P.kPerSplit);');
  emit(`  let row0 = wg.y * ${tile}u;`);
  emit(`  let col0 = wg.x * ${tile}u;`);
  emit(`  let tid = lid.y * ${THREADS}u + lid.x;`);
  for (let i = 0; i < per; i++) for (let j = 0; j < vecs; j++) emit(`  var acc${i}_${j}: vec4<f32>;`);
  for (let l = 0; l < loads; l++) emit(`  var ra${l} = 0.0;\n  var rb${l} = 0.0;`);

  // Thread tid stages A[row0 + e / 16][k0 + e % 16] and B[k0 + e / tile][col0 + e % tile] for e = tid + l * 256.
  const fetch = (k0: string): string => {
    const out: string[] = [];
    for (let l = 0; l < loads; l++) {
      const e = `tid + ${l * THREADS * THREADS}u`;
      out.push(`    { let am = row0 + (${e}) / ${TILE_K}u; let ak = ${k0} + (${e}) % ${TILE_K}u;`);
      out.push(`      ra${l} = 0.0; if (am < P.M && ak < kEnd) { ra${l} = loadA(batch, am, ak); }`);
      out.push(`      let bk = ${k0} + (${e}) / ${tile}u; let bn = col0 + (${e}) % ${tile}u;`);
      out.push(`      rb${l} = 0.0; if (bk < kEnd && bn < P.N) { rb${l} = loadB(batch, bk, bn); } }`);
    }
    return out.join('\n');
  };
  emit(fetch('kBegin'));
  emit(`  for (var k0 = kBegin; k0 < kEnd; k0 += ${TILE_K}u) {`);
  for (let l = 0; l < loads; l++) {
    const e = `tid + ${l * THREADS * THREADS}u`;
    // A is stored transposed (As[k][m]) so that a thread's rows are one vec4 read.
    emit(`    { let am = (${e}) / ${TILE_K}u; let ak = (${e}) % ${TILE_K}u; As[ak * ${tileV}u + am / 4u][am % 4u] = ra${l};`);
    emit(`      let bk = (${e}) / ${tile}u; let bn = (${e}) % ${tile}u; Bs[bk * ${tileV}u + bn / 4u][bn % 4u] = rb${l}; }`);
  }
  emit('    workgroupBarrier();');
  emit(`    if (k0 + ${TILE_K}u < kEnd) {`);
  emit(fetch(`(k0 + ${TILE_K}u)`));
  emit('    }');
  emit(`    for (var k = 0u; k < ${TILE_K}u; k++) {`);
  for (let i = 0; i < vecs; i++) emit(`      let a${i} = As[k * ${tileV}u + ${i * THREADS}u + lid.y];`);
  for (let j = 0; j < vecs; j++) emit(`      let b${j} = Bs[k * ${tileV}u + ${j * THREADS}u + lid.x];`);
  for (let i = 0; i < vecs; i++) {
    for (let q = 0; q < 4; q++) {
      for (let j = 0; j < vecs; j++) emit(`      acc${i * 4 + q}_${j} = fma(vec4<f32>(a${i}[${q}]), b${j}, acc${i * 4 + q}_${j});`);
    }
  }
  emit('    }');
  emit('    workgroupBarrier();');
  emit('  }');
  for (let i = 0; i < vecs; i++) {
    for (let q = 0; q < 4; q++) {
      emit(`  { let m = row0 + (${i * THREADS}u + lid.y) * 4u + ${q}u;`);
      emit('    if (m < P.M) {');
      for (let j = 0; j < vecs; j++) {
        emit(`      { let n = col0 + (${j * THREADS}u + lid.x) * 4u;`);
        for (let r = 0; r < 4; r++) emit(`        if (n + ${r}u < P.N) { store(batch, m, n + ${r}u, acc${i * 4 + q}_${j}[${r}]); }`);
        emit('      }');
      }
      emit('    }');
      emit('  }');
    }
  }
  emit('}');
  return lines.join('\n');
}
