/**
 * Batch normalisation over the channel axis (axis 1) of NCHW-like input: statistics are taken per
 * channel over every other axis. `shape` is [N, C, ...spatial]; [N, C] (BatchNorm1d on features)
 * is the case with no spatial axes. All sums run in float64 regardless of the element type;
 * statistics are returned in the element type of x.
 */
import { allocLike, type FloatArray } from './types.js';

export interface BatchNormLayout {
  n: number;
  c: number;
  /** Elements per (sample, channel): product of the spatial axes (1 if none). */
  s: number;
  /** Elements per channel: n * s. */
  count: number;
  /** All elements: n * c * s. */
  size: number;
}

/** Validates a batch-norm input shape against its array and splits it into n, c, s (shared with the WebAssembly kernels). */
export function batchNormLayout(shape: readonly number[], length: number): BatchNormLayout {
  if (shape.length < 2) throw new Error(`batchNorm: expected shape [N, C, ...], got [${shape.join(', ')}]`);
  const n = shape[0];
  const c = shape[1];
  let s = 1;
  for (let i = 2; i < shape.length; i++) s *= shape[i];
  if (length < n * c * s) throw new Error(`batchNorm: array has ${length} elements, shape [${shape.join(', ')}] needs ${n * c * s}`);
  return { n, c, s, count: n * s, size: n * c * s };
}

/**
 * Training-mode forward: normalises with the batch mean and biased variance,
 * y = (x - mean) * invStd * gamma + beta with invStd = 1 / sqrt(var + eps). Also returns the
 * unbiased variance (var * count / (count - 1); NaN when a channel has a single element) for the
 * running-statistics update. gamma/beta default to 1/0 when null. Mean and variance use two passes.
 */
export function batchNormTrainForward(
  x: FloatArray,
  shape: readonly number[],
  gamma: FloatArray | null,
  beta: FloatArray | null,
  eps: number,
): { y: FloatArray; mean: FloatArray; invStd: FloatArray; varUnbiased: FloatArray } {
  const { n, c, s, count } = batchNormLayout(shape, x.length);
  const y = allocLike(x, n * c * s);
  const mean = allocLike(x, c);
  const invStd = allocLike(x, c);
  const varUnbiased = allocLike(x, c);
  const stride = c * s;
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let b = 0; b < n; b++) {
      const start = b * stride + ch * s;
      const end = start + s;
      for (let i = start; i < end; i++) sum += x[i];
    }
    const m = sum / count;
    let sq = 0;
    let comp = 0; // sum of deviations: corrects the rounding left in m (corrected two-pass algorithm)
    for (let b = 0; b < n; b++) {
      const start = b * stride + ch * s;
      const end = start + s;
      for (let i = start; i < end; i++) {
        const d = x[i] - m;
        sq += d * d;
        comp += d;
      }
    }
    const m2 = Math.max(0, sq - (comp * comp) / count);
    const variance = m2 / count;
    const inv = 1 / Math.sqrt(variance + eps);
    mean[ch] = m;
    invStd[ch] = inv;
    varUnbiased[ch] = count > 1 ? m2 / (count - 1) : NaN;
    const gm = gamma ? gamma[ch] : 1;
    const bt = beta ? beta[ch] : 0;
    const scale = gm * inv;
    for (let b = 0; b < n; b++) {
      const start = b * stride + ch * s;
      const end = start + s;
      for (let i = start; i < end; i++) y[i] = (x[i] - m) * scale + bt;
    }
  }
  return { y, mean, invStd, varUnbiased };
}

/** Inference-mode forward with given (running) statistics: y = (x - mean) / sqrt(variance + eps) * gamma + beta. */
export function batchNormInferenceForward(
  x: FloatArray,
  shape: readonly number[],
  mean: FloatArray,
  variance: FloatArray,
  gamma: FloatArray | null,
  beta: FloatArray | null,
  eps: number,
): FloatArray {
  const { n, c, s } = batchNormLayout(shape, x.length);
  const y = allocLike(x, n * c * s);
  const stride = c * s;
  for (let ch = 0; ch < c; ch++) {
    const inv = 1 / Math.sqrt(variance[ch] + eps);
    const scale = (gamma ? gamma[ch] : 1) * inv;
    const m = mean[ch];
    const bt = beta ? beta[ch] : 0;
    for (let b = 0; b < n; b++) {
      const start = b * stride + ch * s;
      const end = start + s;
      for (let i = start; i < end; i++) y[i] = (x[i] - m) * scale + bt;
    }
  }
  return y;
}

/**
 * Training-mode backward, through the batch statistics. With xhat = (x - mean) * invStd and m the
 * per-channel count:
 *   dbeta = sum(dy), dgamma = sum(dy * xhat),
 *   dx = gamma * invStd * (dy - dbeta / m - xhat * dgamma / m).
 * `mean` and `invStd` are those returned by `batchNormTrainForward`. dgamma/dbeta are computed
 * even when gamma is null (then gamma is taken as 1).
 */
export function batchNormBackward(
  dy: FloatArray,
  x: FloatArray,
  shape: readonly number[],
  mean: FloatArray,
  invStd: FloatArray,
  gamma: FloatArray | null,
): { dx: FloatArray; dgamma: FloatArray; dbeta: FloatArray } {
  const { n, c, s, count } = batchNormLayout(shape, x.length);
  if (dy.length < n * c * s) throw new Error('batchNormBackward: dy is smaller than x');
  const dx = allocLike(dy, n * c * s);
  const dgamma = allocLike(dy, c);
  const dbeta = allocLike(dy, c);
  const stride = c * s;
  for (let ch = 0; ch < c; ch++) {
    const m = mean[ch];
    const inv = invStd[ch];
    let sumDy = 0;
    let sumDyXc = 0; // sum(dy * (x - mean))
    for (let b = 0; b < n; b++) {
      const start = b * stride + ch * s;
      const end = start + s;
      for (let i = start; i < end; i++) {
        const g = dy[i];
        sumDy += g;
        sumDyXc += g * (x[i] - m);
      }
    }
    const sumDyXhat = sumDyXc * inv;
    dbeta[ch] = sumDy;
    dgamma[ch] = sumDyXhat;
    const k = (gamma ? gamma[ch] : 1) * inv;
    const meanDy = sumDy / count;
    // dx = k * (dy - meanDy - (x - mean) * inv^2 * sumDyXc / count)
    const c2 = (inv * inv * sumDyXc) / count;
    for (let b = 0; b < n; b++) {
      const start = b * stride + ch * s;
      const end = start + s;
      for (let i = start; i < end; i++) dx[i] = k * (dy[i] - meanDy - (x[i] - m) * c2);
    }
  }
  return { dx, dgamma, dbeta };
}
