/**
 * Workgroup-wide reductions for the kernels that reduce a row or a channel in one workgroup
 * (reduce, softmax, batch norm, layer norm), in two forms:
 *
 * - with subgroup operations, where the device has the 'subgroups' feature: subgroupAdd (or
 *   subgroupMax/Min) within each subgroup, the subgroups' results written to workgroup memory by
 *   their first invocation, one barrier, then every subgroup reduces those results again with one
 *   subgroup operation, so that every invocation gets the total without a second barrier (each
 *   subgroup reduces the same values in the same lanes, so all get the same total in practice;
 *   WGSL does not fix the order in which a subgroupAdd adds);
 * - without: a tree in workgroup memory (log2(threads) barriers), the path of every device before.
 *
 * Each thread first accumulates its strided partial result in the kernel, in f32, in the same
 * order on both paths; only the combination of the per-thread partials differs.
 *
 * The subgroup size is read at run time (`subgroup_size`): WebGPU allows any power of two from 4
 * to 128 (lavapipe reports 8, NVIDIA 32, AMD 32 or 64), so the scratch array holds threads / 4
 * results. A subgroup's slot is `local_invocation_index / subgroup_size`: this takes subgroups to
 * be consecutive runs of full subgroups in local_invocation_index order. Every implementation we
 * know does this for a one-dimensional workgroup whose size is a multiple of the subgroup size (the
 * webgpu tests check it on their device), though neither WGSL nor Vulkan promises it;
 * FOVEA_WEBGPU_SUBGROUPS=0 (or setWebGPUSubgroups(false)) falls back to the tree.
 */
import { envVar } from '../../../platform.js';
import type { WebGPUBackend } from '../backend.js';

/** The smallest subgroup WebGPU allows (GPUAdapterInfo.subgroupMinSize >= 4). */
const MIN_SUBGROUP_SIZE = 4;
/** The largest subgroup WebGPU allows: a workgroup must hold whole subgroups of any size. */
const MAX_SUBGROUP_SIZE = 128;

let forced: boolean | undefined;
/** FOVEA_WEBGPU_SUBGROUPS != '0', read on first use. */
let envAllows: boolean | undefined;

/**
 * Turns the subgroup paths off (false) for every kernel recorded from now on, or back to the
 * default (undefined: on where the device has 'subgroups', unless FOVEA_WEBGPU_SUBGROUPS=0).
 * true never turns them on where the device lacks the feature. For tests and comparisons.
 */
export function setWebGPUSubgroups(on: boolean | undefined): void {
  forced = on;
}

/** Whether kernels recorded on `backend` now use subgroup operations. */
export function useSubgroups(backend: WebGPUBackend): boolean {
  if (!backend.context.features.subgroups) return false;
  if (forced !== undefined) return forced;
  // Read once: this runs for every reduction recorded.
  envAllows ??= envVar('FOVEA_WEBGPU_SUBGROUPS') !== '0';
  return envAllows;
}

export type ReduceOp = 'sum' | 'max' | 'min';
export type ReduceType = 'f32' | 'i32' | 'u32' | 'vec2<f32>';

/** A WGSL function `fn <name>(v: <type>, lid: u32) -> <type>` returning the workgroup's total to every invocation. */
export interface WorkgroupReduction {
  name: string;
  op: ReduceOp;
  type: ReduceType;
}

/** What a program adds to use workgroup reductions. */
export interface ReductionWgsl {
  /** For Program.enables. */
  enables: string[];
  /** Entry-point parameters to append to `main`'s (empty, or starting with a comma). */
  params: string;
  /** The first statement of `main` (empty without subgroups). */
  init: string;
  /** Module-scope declarations and the reduction functions. */
  code: string;
}

/** The WGSL expression combining `a` and `b`. */
function combine(op: ReduceOp, a: string, b: string): string {
  return op === 'sum' ? `${a} + ${b}` : `${op}(${a}, ${b})`;
}
const SUBGROUP_OP: Record<ReduceOp, string> = { sum: 'subgroupAdd', max: 'subgroupMax', min: 'subgroupMin' };

const mangle = (type: ReduceType): string => type.replace(/\W/g, '_');

/**
 * WGSL for `reductions` in a one-dimensional workgroup of `threads` invocations, each of whose
 * functions must be called from uniform control flow (it holds barriers and subgroup operations)
 * and with the invocation's local_invocation_index.
 *
 * With subgroups, each function may run at most once per invocation: its scratch array is not
 * guarded against a second call overwriting it while other subgroups still read it (declare one
 * function per use instead; the cost is threads / 4 scratch values each).
 */
export function workgroupReductions(threads: number, subgroups: boolean, reductions: readonly WorkgroupReduction[]): ReductionWgsl {
  if (threads % MAX_SUBGROUP_SIZE || threads & (threads - 1)) throw new Error(`internal: workgroup reductions need a power-of-two workgroup of at least ${MAX_SUBGROUP_SIZE} threads, got ${threads}`);
  const names = new Set(reductions.map((r) => r.name));
  if (names.size !== reductions.length) throw new Error('internal: workgroup reductions need distinct names');
  const lines: string[] = [];
  if (subgroups) {
    lines.push('var<private> sgLane_: u32;', 'var<private> sgSize_: u32;');
    for (const { name, op, type } of reductions) {
      const slots = `${name}_slots`;
      const reduceOp = SUBGROUP_OP[op];
      // max and min start from slot 0, always written (by the subgroup holding invocation 0).
      const init = op === 'sum' ? `${type}()` : `${slots}[0]`;
      lines.push(
        `var<workgroup> ${slots}: array<${type}, ${threads / MIN_SUBGROUP_SIZE}>;`,
        `fn ${name}(v: ${type}, lid: u32) -> ${type} {`,
        `  let s = ${reduceOp}(v);`,
        `  if (sgLane_ == 0u) { ${slots}[lid / sgSize_] = s; }`,
        '  workgroupBarrier();',
        `  var acc = ${init};`,
        `  for (var k = sgLane_; k < ${threads}u / sgSize_; k += sgSize_) { acc = ${combine(op, 'acc', `${slots}[k]`)}; }`,
        `  return ${reduceOp}(acc);`,
        '}',
      );
    }
    return {
      enables: ['subgroups'],
      params: ', @builtin(subgroup_invocation_id) sgLane: u32, @builtin(subgroup_size) sgSize: u32',
      init: 'sgLane_ = sgLane; sgSize_ = sgSize;',
      code: lines.join('\n'),
    };
  }
  // One tree array per element type, shared by the functions: each ends with a barrier.
  for (const type of new Set(reductions.map((r) => r.type))) lines.push(`var<workgroup> tree_${mangle(type)}: array<${type}, ${threads}>;`);
  for (const { name, op, type } of reductions) {
    const tree = `tree_${mangle(type)}`;
    lines.push(
      `fn ${name}(v: ${type}, lid: u32) -> ${type} {`,
      `  ${tree}[lid] = v;`,
      '  workgroupBarrier();',
      `  for (var s = ${threads / 2}u; s > 0u; s = s >> 1u) {`,
      `    if (lid < s) { ${tree}[lid] = ${combine(op, `${tree}[lid]`, `${tree}[lid + s]`)}; }`,
      '    workgroupBarrier();',
      '  }',
      `  let total = ${tree}[0];`,
      '  workgroupBarrier();',
      '  return total;',
      '}',
    );
  }
  return { enables: [], params: '', init: '', code: lines.join('\n') };
}
