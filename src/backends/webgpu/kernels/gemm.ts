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
 *
 * Operand loads: each thread stages the same few slots of every K tile. Which index of an
 * operand neighbouring threads walk is the operand's `layout` (the one contiguous in memory, so
 * a warp's loads coalesce). The other index of a thread's slots never changes along K, so the
 * address arithmetic that depends only on it (an implicit GEMM's image / pixel decomposition,
 * with its integer divisions) is computed once per thread, before the K loop, by the caller's
 * `rowA` / `colB`; what depends only on k is computed by `kA` / `kB`, once per K tile for the
 * walked index. `colY` does the same for the columns of the stores.
 */
import type { Program, WgslElement, WgslScalar } from '../program.js';

/** The smaller tile edge (split-K sizing and tests use it). */
export const TILE = 64;
const TILE_K = 16;
const THREADS = 16;

/** Hoisted addressing functions a GemmSpec's code may define (identity defaults otherwise). */
export type GemmHook = 'rowA' | 'kA' | 'colB' | 'kB' | 'colY';

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
  /** The index of A contiguous in memory, which neighbouring threads walk: 'k' (default) or 'm'. */
  layoutA?: 'k' | 'm';
  /** The index of B contiguous in memory: 'n' (default) or 'k'. */
  layoutB?: 'n' | 'k';
  /** Constant WGSL blocks the code uses (see Program.shared), e.g. the math library. */
  shared?: readonly string[];
  /** Program.key of the product without the GEMM's own variants (tile, layouts, hooks), which are added. */
  key?: string;
  /** The hooks `code` defines; the others default to passing the index through as a u32. */
  hooks?: readonly GemmHook[];
  /**
   * WGSL defining
   * - `fn loadA(batch: u32, row: RowA, k: KA) -> f32`, `fn loadB(batch: u32, k: KB, col: ColB) -> f32`
   *   (called only for m < M, k < K, n < N) and `fn store(batch: u32, m: u32, col: ColY, v: f32)`
   *   (called for m < M, n < N);
   * - for each hook it lists, the type and function: `RowA` / `fn rowA(batch: u32, m: u32) -> RowA`,
   *   `KA` / `fn kA(batch: u32, k: u32) -> KA`, `ColB` / `fn colB(batch: u32, n: u32) -> ColB`,
   *   `KB` / `fn kB(batch: u32, k: u32) -> KB`, `ColY` / `fn colY(batch: u32, n: u32) -> ColY`
   *   (kA and kB may see k >= K, whose loads are skipped, so they must not index with it);
   * plus any helpers.
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

const HOOK_DEFAULTS: Record<GemmHook, string> = {
  rowA: 'alias RowA = u32;\nfn rowA(batch: u32, m: u32) -> u32 { return m; }',
  kA: 'alias KA = u32;\nfn kA(batch: u32, k: u32) -> u32 { return k; }',
  colB: 'alias ColB = u32;\nfn colB(batch: u32, n: u32) -> u32 { return n; }',
  kB: 'alias KB = u32;\nfn kB(batch: u32, k: u32) -> u32 { return k; }',
  colY: 'alias ColY = u32;\nfn colY(batch: u32, n: u32) -> u32 { return n; }',
};

export function gemmProgram(g: GemmSpec): Program {
  const splits = g.splits ?? 1;
  const tile = gemmTile(g.M, g.N, g.batch * splits);
  const kPerSplit = Math.ceil(g.K / splits / TILE_K) * TILE_K;
  const defined = new Set(g.hooks ?? []);
  const defaults = (Object.keys(HOOK_DEFAULTS) as GemmHook[]).filter((h) => !defined.has(h)).map((h) => HOOK_DEFAULTS[h]);
  const layoutA = g.layoutA ?? 'k';
  const layoutB = g.layoutB ?? 'n';
  return {
    name: g.name,
    key: g.key === undefined ? undefined : `${g.key}|${tile}${layoutA}${layoutB}|${[...defined].join()}`,
    inputs: g.inputs,
    outputs: g.outputs,
    uniforms: [['M', 'u32', g.M], ['N', 'u32', g.N], ['K', 'u32', g.K], ['splits', 'u32', splits], ['kPerSplit', 'u32', kPerSplit], ...g.uniforms],
    code: `var<private> split: u32;
${g.code}`,
    shared: [...(g.shared ?? []), ...defaults, tiledMain(tile, layoutA, layoutB)],
    workgroups: [Math.ceil(g.N / tile), Math.ceil(g.M / tile), g.batch * splits],
  };
}

const mains = new Map<string, string>();

/** The entry point for a tile edge and operand layouts, generated once (the same string each call). */
function tiledMain(tile: number, layoutA: 'k' | 'm', layoutB: 'n' | 'k'): string {
  const key = `${tile}${layoutA}${layoutB}`;
  let main = mains.get(key);
  if (!main) mains.set(key, (main = generateTiledMain(tile, layoutA === 'k', layoutB === 'k')));
  return main;
}

/**
 * The entry point for a tile edge of 64 or 128 (per-thread blocks of 4 x 4 or 8 x 8). Thread
 * tid stages elements e = tid + 256 l (l < loads) of each operand tile. Walking k, element e is
 * (row or column e / 16, k e % 16): every slot of a thread has the same k and its own row.
 * Walking the other index, it is (row or column e % tile, k e / tile): one row for every slot,
 * each slot its own k. Since 256 is a multiple of the tile edge, either way one of the two is
 * fixed per thread.
 */
function generateTiledMain(tile: number, aWalksK: boolean, bWalksK: boolean): string {
  const per = tile / THREADS; // values per thread along each edge
  const vecs = per / 4; // vec4s per thread along each edge
  const tileV = tile / 4; // vec4s per k row of a staged tile
  const loads = (tile * TILE_K) / (THREADS * THREADS); // operand values each thread stages per K tile
  const step = (THREADS * THREADS) / tile; // k rows between a thread's slots when walking the other index
  const lines: string[] = [];
  const emit = (s: string): void => void lines.push(s);

  emit(`var<workgroup> As: array<vec4<f32>, ${TILE_K * tileV}>;`);
  emit(`var<workgroup> Bs: array<vec4<f32>, ${TILE_K * tileV}>;`);
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

  // Per operand: r the register prefix, origin and limit of its fixed (row or column) index, the
  // hook that hoists that index's addressing, and the load given the fixed address and k's.
  const operands = [
    { r: 'a', walksK: aWalksK, origin: 'row0', limit: 'P.M', fixedHook: 'rowA', kHook: 'kA', load: (f: string, k: string) => `loadA(batch, ${f}, ${k})` },
    { r: 'b', walksK: bWalksK, origin: 'col0', limit: 'P.N', fixedHook: 'colB', kHook: 'kB', load: (f: string, k: string) => `loadB(batch, ${k}, ${f})` },
  ];
  // Tile-local coordinates of each slot (<r>F: row or column, <r>K: k), and the hoisted
  // addressing of the fixed index (<r>Addr); per slot l where the operand walks k, else shared.
  for (const o of operands) {
    if (o.walksK) {
      emit(`  let ${o.r}K = tid % ${TILE_K}u;`);
      for (let l = 0; l < loads; l++) {
        emit(`  let ${o.r}F${l} = tid / ${TILE_K}u + ${l * TILE_K}u;`);
        emit(`  let ${o.r}In${l} = ${o.origin} + ${o.r}F${l} < ${o.limit};`);
        emit(`  let ${o.r}Addr${l} = ${o.fixedHook}(batch, min(${o.origin} + ${o.r}F${l}, ${o.limit} - 1u));`);
      }
    } else {
      emit(`  let ${o.r}F = tid % ${tile}u;`);
      emit(`  let ${o.r}In = ${o.origin} + ${o.r}F < ${o.limit};`);
      emit(`  let ${o.r}Addr = ${o.fixedHook}(batch, min(${o.origin} + ${o.r}F, ${o.limit} - 1u));`);
      for (let l = 0; l < loads; l++) emit(`  let ${o.r}K${l} = tid / ${tile}u + ${l * step}u;`);
    }
  }

  const fetch = (k0: string): string => {
    const out: string[] = [`    { let k0 = ${k0};`];
    for (const o of operands) {
      if (o.walksK) {
        out.push(`      let ${o.r}k = k0 + ${o.r}K; let ${o.r}kAddr = ${o.kHook}(batch, ${o.r}k); let ${o.r}KIn = ${o.r}k < kEnd;`);
        for (let l = 0; l < loads; l++) out.push(`      r${o.r}${l} = 0.0; if (${o.r}KIn && ${o.r}In${l}) { r${o.r}${l} = ${o.load(`${o.r}Addr${l}`, `${o.r}kAddr`)}; }`);
      } else {
        for (let l = 0; l < loads; l++) out.push(`      { let k = k0 + ${o.r}K${l}; r${o.r}${l} = 0.0; if (${o.r}In && k < kEnd) { r${o.r}${l} = ${o.load(`${o.r}Addr`, `${o.kHook}(batch, k)`)}; } }`);
      }
    }
    out.push('    }');
    return out.join('\n');
  };
  // Where slot l's value goes in workgroup memory: A transposed (As[k][m]) so that a thread's
  // rows are one vec4 read. An operand walking k has its vec4 column c of row k stored at c ^ k:
  // otherwise the 16 threads storing one column's 16 k values all hit the same memory bank. The
  // XOR flips only the low 4 bits, so a row's 16-vec4 groups stay where they were.
  const slot = (walksK: boolean, k: string, mn: string): string => (walksK ? `${k} * ${tileV}u + ((${mn} / 4u) ^ ${k})` : `${k} * ${tileV}u + ${mn} / 4u`);
  const stage = (l: number): string =>
    operands
      .map((o) => {
        const f = o.walksK ? `${o.r}F${l}` : `${o.r}F`;
        const k = o.walksK ? `${o.r}K` : `${o.r}K${l}`;
        return `    ${o.r.toUpperCase()}s[${slot(o.walksK, k, f)}][${f} % 4u] = r${o.r}${l};`;
      })
      .join('\n');
  emit(fetch('kBegin'));
  emit(`  for (var k0 = kBegin; k0 < kEnd; k0 += ${TILE_K}u) {`);
  for (let l = 0; l < loads; l++) emit(stage(l));
  emit('    workgroupBarrier();');
  emit(`    if (k0 + ${TILE_K}u < kEnd) {`);
  emit(fetch(`k0 + ${TILE_K}u`));
  emit('    }');
  emit(`    for (var k = 0u; k < ${TILE_K}u; k++) {`);
  emit(`      let ya = ${aWalksK ? 'lid.y ^ k' : 'lid.y'};`);
  emit(`      let xb = ${bWalksK ? 'lid.x ^ k' : 'lid.x'};`);
  for (let i = 0; i < vecs; i++) emit(`      let a${i} = As[k * ${tileV}u + ${i * THREADS}u + ya];`);
  for (let j = 0; j < vecs; j++) emit(`      let b${j} = Bs[k * ${tileV}u + ${j * THREADS}u + xb];`);
  for (let i = 0; i < vecs; i++) {
    for (let q = 0; q < 4; q++) {
      for (let j = 0; j < vecs; j++) emit(`      acc${i * 4 + q}_${j} = fma(vec4<f32>(a${i}[${q}]), b${j}, acc${i * 4 + q}_${j});`);
    }
  }
  emit('    }');
  emit('    workgroupBarrier();');
  emit('  }');
  // The thread's columns, their store addressing computed once for all its rows.
  for (let j = 0; j < vecs; j++) {
    for (let r = 0; r < 4; r++) {
      emit(`  let n${j}_${r} = col0 + (${j * THREADS}u + lid.x) * 4u + ${r}u;`);
      emit(`  let y${j}_${r} = colY(batch, min(n${j}_${r}, P.N - 1u));`);
    }
  }
  for (let i = 0; i < vecs; i++) {
    for (let q = 0; q < 4; q++) {
      emit(`  { let m = row0 + (${i * THREADS}u + lid.y) * 4u + ${q}u;`);
      emit('    if (m < P.M) {');
      for (let j = 0; j < vecs; j++) {
        for (let r = 0; r < 4; r++) emit(`      if (n${j}_${r} < P.N) { store(batch, m, y${j}_${r}, acc${i * 4 + q}_${j}[${r}]); }`);
      }
      emit('    }');
      emit('  }');
    }
  }
  emit('}');
  return lines.join('\n');
}
