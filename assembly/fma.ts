// a * b + c on f32x4. With relaxed SIMD (the -relaxed builds) this is f32x4.relaxed_madd, a
// fused multiply-add on hardware that has one (one instruction, one rounding); otherwise a
// multiply then an add. The choice is made at compile time (ASC_FEATURE_RELAXED_SIMD).

// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}
