import type { FloatArray } from './types.js';

/**
 * Layer normalisation over the last axis (rows of `c` values), in one pass per row: mean and
 * biased variance in float64 (two passes over the row, as the reference statistics), then
 * y = (x - mean) / sqrt(var + eps) * weight + bias. The inference kernel of ops.layerNorm.
 */
export function layerNormForward(x: FloatArray, c: number, weight: FloatArray | null, bias: FloatArray | null, eps: number, out: FloatArray): void {
  const rows = x.length / c;
  for (let r = 0, o = 0; r < rows; r++, o += c) {
    let sum = 0;
    for (let j = 0; j < c; j++) sum += x[o + j];
    const mean = sum / c;
    let sq = 0;
    for (let j = 0; j < c; j++) {
      const d = x[o + j] - mean;
      sq += d * d;
    }
    const rstd = 1 / Math.sqrt(sq / c + eps);
    for (let j = 0; j < c; j++) {
      let y = (x[o + j] - mean) * rstd;
      if (weight) y *= weight[j];
      if (bias) y += bias[j];
      out[o + j] = y;
    }
  }
}
