// Comparisons of float tensors shared by the tests (also bundled into the browser test page,
// so nothing here may import a node: module).
import type { Tensor } from '../../src/tensor/tensor.js';

/** max |actual - expected| and max |expected| (the scale the tolerances are relative to). */
export function maxAbsError(actual: Tensor, expected: Tensor): { err: number; scale: number } {
  if (actual.shape.join() !== expected.shape.join()) throw new Error(`shape [${actual.shape.join(', ')}] differs from the expected [${expected.shape.join(', ')}]`);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let scale = 0;
  let err = 0;
  for (let i = 0; i < e.length; i++) {
    scale = Math.max(scale, Math.abs(e[i]));
    err = Math.max(err, Math.abs(a[i] - e[i]));
  }
  return { err, scale };
}

/** max |actual - expected| / max |expected| (a scale below 1e-6 counts as 1e-6). */
export function maxRelativeError(actual: Tensor, expected: Tensor): number {
  const { err, scale } = maxAbsError(actual, expected);
  return err / Math.max(scale, 1e-6);
}
