/**
 * IEEE 754 half precision as 16-bit patterns (float16 tensors hold these on the host, in a
 * Uint16Array, since JavaScript has no Float16Array on every runtime fovea supports; safetensors
 * F16 uses the same conversions). float32 -> float16 rounds to nearest, ties to even, like numpy
 * and PyTorch (WGSL leaves the GPU's rounding to the implementation: it may differ by one unit in
 * the last place); float16 -> float32 is exact.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 bit pattern of a float32 bit pattern, rounding to nearest, ties to even. */
export function float32BitsToFloat16(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  const mant = f & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // inf / quiet nan
  const e = exp - 112; // float16 biased exponent
  if (e >= 31) return sign | 0x7c00; // overflow
  if (e >= 1) {
    // Normal: drop 13 mantissa bits. A carry out of the mantissa correctly bumps
    // the exponent (and reaches infinity from the largest binade).
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
    return sign | h;
  }
  // Subnormal or zero result: value = m * 2^(exp - 150), unit 2^-24.
  const shift = 14 - e; // >= 14
  if (shift > 24) return sign; // below half the smallest subnormal (also float32 zeros/subnormals)
  const m = mant | 0x800000;
  let h = m >>> shift;
  const rest = m & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  if (rest > half || (rest === half && (h & 1) === 1)) h++; // may round up to the smallest normal, 0x0400
  return sign | h;
}

let halfTable: Uint32Array | undefined;

/** float32 bit pattern of every float16 bit pattern (exact; NaN payloads kept). */
export function float16ToFloat32BitsTable(): Uint32Array {
  if (halfTable !== undefined) return halfTable;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    let mant = h & 0x3ff;
    let bits: number;
    if (exp === 0x1f) {
      bits = sign | 0x7f800000 | (mant << 13); // inf / nan
    } else if (exp !== 0) {
      bits = sign | ((exp + 112) << 23) | (mant << 13); // normal: rebias 15 -> 127
    } else if (mant === 0) {
      bits = sign; // +-0
    } else {
      // Subnormal mant * 2^-24: normalize into a float32 normal number.
      let e = 113; // float32 biased exponent of 2^-14
      while ((mant & 0x400) === 0) {
        mant <<= 1;
        e--;
      }
      bits = sign | (e << 23) | ((mant & 0x3ff) << 13);
    }
    table[h] = bits >>> 0;
  }
  halfTable = table;
  return table;
}

/** The float16 bit pattern nearest to `value` (overflow to infinity, NaN kept as a quiet NaN). */
export function float16Bits(value: number): number {
  f32[0] = value;
  return float32BitsToFloat16(u32[0]);
}

/** The value of a float16 bit pattern. */
export function float16Value(bits: number): number {
  u32[0] = float16ToFloat32BitsTable()[bits & 0xffff];
  return f32[0];
}

export function toFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float16Bits(values[i]);
  return out;
}

export function fromFloat16Bits(bits: Uint16Array): Float32Array {
  const table = float16ToFloat32BitsTable();
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return new Float32Array(out.buffer);
}
