// Shared helpers for the CPU kernel tests.
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import type { FloatArray } from '../../../../src/backends/cpu/kernels/types.js';

export type Dtype = 'float32' | 'float64';

export function randomArray(rng: Rng, n: number, dtype: Dtype = 'float64'): FloatArray {
  const a = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

/** Converts to the given element type (rounding to float32 if asked). */
export function cast(a: ArrayLike<number>, dtype: Dtype): FloatArray {
  return dtype === 'float64' ? Float64Array.from(a) : Float32Array.from(a);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'dot: length mismatch');
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** sum |a_i * b_i|: the scale against which a rounding error in <a, b> is measured. */
export function absDot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] * b[i]);
  return s;
}

/**
 * Asserts |actual_i - expected_i| <= rtol * scale_i for every i, where scale_i is scales[i] if
 * given (e.g. the sum of absolute terms behind expected_i) or max(|expected_i|, 1) otherwise.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string, scales?: ArrayLike<number>): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (Number.isNaN(e) || Number.isNaN(a)) {
      assert.ok(Number.isNaN(e) && Number.isNaN(a), `${what}[${i}]: got ${a}, expected ${e}`);
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(a)) {
      assert.equal(a, e, `${what}[${i}]`);
      continue;
    }
    const scale = scales ? scales[i] + 1e-300 : Math.max(Math.abs(e), 1);
    const err = Math.abs(a - e);
    if (!(err <= rtol * scale)) assert.fail(`${what}[${i}]: got ${a}, expected ${e} (error ${err.toExponential(2)} > ${rtol} * ${scale.toExponential(2)})`);
  }
}

/** Asserts two scalars agree to rtol relative to `scale` (defaults to max(|a|, |b|, 1e-300)). */
export function assertScalarClose(a: number, b: number, rtol: number, what: string, scale?: number): void {
  const s = scale ?? Math.max(Math.abs(a), Math.abs(b), 1e-300);
  if (!(Math.abs(a - b) <= rtol * s)) assert.fail(`${what}: ${a} vs ${b} (relative error ${(Math.abs(a - b) / s).toExponential(2)} > ${rtol})`);
}

export const RTOL: Record<Dtype, number> = { float64: 1e-9, float32: 1e-4 };
