/**
 * Types shared by the CPU reference kernels. Kernels are plain functions on typed arrays in
 * contiguous row-major (NCHW) layout. They are generic over float32 and float64 so that the
 * gradient checks can run the very same code in float64; outputs take the input's array type.
 */
import { takeArray } from '../array-pool.js';

export type FloatArray = Float32Array | Float64Array;

export type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

/** A zeroed array of the same element type as `like` (recycled from freed tensors when possible). */
export function allocLike(like: FloatArray, size: number): FloatArray {
  return takeArray(like instanceof Float64Array ? 'float64' : 'float32', size) as FloatArray;
}

/** Geometry of a 2-D convolution, resolved once by the op layer. */
export interface Conv2dParams {
  /** [batch, inChannels, height, width] of the input. */
  inShape: readonly [number, number, number, number];
  /** [outChannels, inChannels / groups, kernelH, kernelW] of the weight. */
  weightShape: readonly [number, number, number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
  groups: number;
}

/** Geometry of a 2-D pooling window (max or average), PyTorch semantics. */
export interface Pool2dParams {
  inShape: readonly [number, number, number, number];
  kernel: readonly [number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
  ceilMode: boolean;
  /** Average pooling only: whether zero padding counts in the divisor (PyTorch default true). */
  countIncludePad: boolean;
}

/** Output spatial size of a convolution or pooling window along one axis (PyTorch's formula). */
export function outputSize(input: number, kernel: number, stride: number, padding: number, dilation: number, ceilMode = false): number {
  const span = input + 2 * padding - dilation * (kernel - 1) - 1;
  let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // PyTorch: with ceil_mode the last window must start inside the input or left padding.
  if (ceilMode && (out - 1) * stride >= input + padding) out--;
  return out;
}
