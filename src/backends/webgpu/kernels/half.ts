/**
 * float16 storage on the GPU: two halves per u32 word, read with unpack2x16float and written
 * with pack2x16float, which are core WGSL, so float16 tensors work on every adapter (the
 * arithmetic stays in f32 registers; 'shader-f16' is not needed to store halves).
 */
import type { DType } from '../../../tensor/dtype.js';
import type { WgslScalar } from '../program.js';

export interface Operand {
  /** The storage binding: [name, element type]. */
  binding: [string, WgslScalar];
  /** WGSL of `fn ld<name>(i: u32) -> f32`, element i as f32. */
  code: string;
}

/** A float32 or float16 operand `name` of kernel `op`, read through `ld<name>(i)`. */
export function operand(name: string, dtype: DType, op: string): Operand {
  if (dtype === 'float16') {
    return { binding: [name, 'u32'], code: `fn ld${name}(i: u32) -> f32 { return unpack2x16float(${name}[i >> 1u])[i & 1u]; }` };
  }
  if (dtype !== 'float32') throw new Error(`${op}: the webgpu backend computes in float32 (float16 operands allowed), got ${dtype}; cast the tensor (x.cast('float32')) first or run this op on the cpu backend`);
  return { binding: [name, 'f32'], code: `fn ld${name}(i: u32) -> f32 { return ${name}[i]; }` };
}

/** The dtype of a product of these operands: float16 ones give float32 results. */
export const productDtype = (dtype: DType): DType => (dtype === 'float16' ? 'float32' : dtype);

/** A suffix for program names, so profiles tell float16 kernels apart. */
export const halfSuffix = (...dtypes: DType[]): string => (dtypes.includes('float16') ? '_f16' : '');
