/**
 * Element types a tensor can hold. float64 exists for gradient checks and exact reductions;
 * float16 is storage for mixed precision (see autocast): casts, convolutions and matrix
 * products take it, and its host form is a Uint16Array of IEEE half-precision bit patterns.
 */
export type DType = 'float32' | 'float64' | 'float16' | 'int32' | 'uint8';

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array;

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'float16'
        ? Uint16Array
        : Uint8Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, float64: 8, float16: 2, int32: 4, uint8: 1 };

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64' || dtype === 'float16';
}

export function allocTyped(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'uint8':
      return new Uint8Array(size);
    case 'float16':
      return new Uint16Array(size);
  }
}

export function dtypeOfArray(values: TypedArray): DType {
  if (values instanceof Float32Array) return 'float32';
  if (values instanceof Float64Array) return 'float64';
  if (values instanceof Int32Array) return 'int32';
  if (values instanceof Uint8Array) return 'uint8';
  if (values instanceof Uint16Array) return 'float16';
  throw new TypeError(`unsupported typed array ${(values as object).constructor.name}; use Float32Array, Float64Array, Int32Array, Uint8Array or Uint16Array (float16 bit patterns)`);
}
