/**
 * A compute program: WGSL for `main` plus a declaration of its buffers and scalar parameters,
 * from which the bindings and the `Params` uniform struct are generated. Kernels write only the
 * shader body; the backend compiles each distinct source once.
 */
import type { DType } from '../../tensor/dtype.js';

export type WgslScalar = 'f32' | 'i32' | 'u32';
/** Element types of storage arrays: scalars, or four floats for vectorised element-wise programs. */
export type WgslElement = WgslScalar | 'vec4<f32>';

export interface Program {
  /** Names the program in errors and GPU debug labels. */
  name: string;
  /** Read-only storage arrays, bound in order: [name, element type]. */
  inputs: readonly (readonly [string, WgslElement])[];
  /** Read-write storage arrays, bound after the inputs. */
  outputs: readonly (readonly [string, WgslElement])[];
  /** Scalars reachable in WGSL as P.<name>. */
  uniforms?: readonly (readonly [string, WgslScalar, number])[];
  /** WGSL with an entry point `main` (and any helper functions). */
  code: string;
  /** Workgroups to dispatch along x, y, z. */
  workgroups: readonly number[];
  /**
   * Constant blocks of WGSL appended after `code` (module-scope declarations may come in any
   * order): module-level strings, the same objects on every call (the math library, the GEMM's
   * entry point), which the pipeline cache finds by identity instead of hashing them per dispatch.
   */
  shared?: readonly string[];
  /** WGSL extensions the code needs (`enable <name>;` heads the source), e.g. 'subgroups'. */
  enables?: readonly string[];
  /**
   * With `name`, identifies the whole WGSL source (code, shared blocks, bindings, uniform names
   * and types, enables): the backend then finds the compiled pipeline by `name` and `key` instead
   * of building and hashing the source on every dispatch. It must differ wherever the source
   * does ('' when the name alone tells the variants apart). FOVEA_WEBGPU_CHECK_KEYS=1 (on in the
   * test suite) builds the source anyway and throws on a key that names two different sources.
   */
  key?: string;
}

/** The WGSL element type of a tensor dtype; float64 and uint8 have none in WGSL. */
export function wgslType(dtype: DType, op: string): WgslScalar {
  if (dtype === 'float32') return 'f32';
  if (dtype === 'int32') return 'i32';
  throw new Error(`${op}: the webgpu backend computes in float32 and int32 only, got ${dtype}; cast the tensor (x.cast('float32')) first or run this op on the cpu backend`);
}

/** The full WGSL source: bindings, the Params struct, then the program's code (and its shared block). */
export function programSource(p: Program): string {
  const head = programHead(p);
  return p.shared?.length ? [head, ...p.shared].join('\n') : head;
}

/** The source without the shared blocks. */
export function programHead(p: Program): string {
  const lines: string[] = (p.enables ?? []).map((e) => `enable ${e};`);
  let binding = 0;
  for (const [name, type] of p.inputs) lines.push(`@group(0) @binding(${binding++}) var<storage, read> ${name}: array<${type}>;`);
  for (const [name, type] of p.outputs) lines.push(`@group(0) @binding(${binding++}) var<storage, read_write> ${name}: array<${type}>;`);
  if (p.uniforms?.length) {
    lines.push(`struct Params { ${p.uniforms.map(([name, type]) => `${name}: ${type},`).join(' ')} }`);
    lines.push(`@group(0) @binding(${binding}) var<uniform> P: Params;`);
  }
  lines.push(p.code);
  return lines.join('\n');
}

/** Bytes of the Params struct for these uniforms (4-byte scalars, size a multiple of 16). */
export const uniformBytes = (uniforms: readonly unknown[]): number => Math.ceil((uniforms.length * 4) / 16) * 16;

/** Writes the uniform values at `offset` of `view` as the Params struct lays them out (no allocation: this runs per dispatch). */
export function packUniforms(uniforms: readonly (readonly [string, WgslScalar, number])[], view: DataView, offset: number): void {
  for (let i = 0; i < uniforms.length; i++) {
    const [name, type, value] = uniforms[i];
    if (!Number.isFinite(value) && type !== 'f32') throw new Error(`internal: uniform ${name} = ${value} is not a valid ${type}`);
    if (type === 'f32') view.setFloat32(offset + i * 4, value, true);
    else if (type === 'i32') view.setInt32(offset + i * 4, value, true);
    else view.setUint32(offset + i * 4, value, true);
  }
}

/** Threads per workgroup of the one-dimensional (element-wise) programs. */
export const WG = 256;
const MAX_WORKGROUPS_PER_DIM = 65535;

/**
 * Workgroups covering `n` threads of WG each, folded into x and y because one dimension holds
 * at most 65535 workgroups. Programs recover the flat index with `flatIndex(gid, nwg)`.
 */
export function grid1d(n: number): number[] {
  const groups = Math.ceil(n / WG);
  if (groups <= MAX_WORKGROUPS_PER_DIM) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(groups / y), y, 1];
}

/** WGSL for the flat thread index of a grid1d dispatch; use with `@builtin(global_invocation_id) gid` and `@builtin(num_workgroups) nwg`. */
export const FLAT_INDEX = `fn flatIndex(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * ${WG}u; }`;

/** The signature line of a one-dimensional program's entry point. */
export const MAIN_1D = `@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u)`;
