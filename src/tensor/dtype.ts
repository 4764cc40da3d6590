/** Element types a tensor can hold. float64 exists for gradient checks and exact reductions. */
export type DType = 'float32' | 'float64' | 'int32' | 'uint8';

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : Uint8Array;

export const BYTES_PER_ELEMENT: Record<DType, number> = { float32: 4, float64: 8, int32: 4, uint8: 1 };

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
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
  }
}

export function dtypeOfArray(values: TypedArray): DType {
  if (values instanceof Float32Array) return 'float32';
  if (values instanceof Float64Array) return 'float64';
  if (values instanceof Int32Array) return 'int32';
  if (values instanceof Uint8Array) return 'uint8';
  throw new TypeError(`unsupported typed array ${(values as object).constructor.name}; use Float32Array, Float64Array, Int32Array or Uint8Array`);
}
