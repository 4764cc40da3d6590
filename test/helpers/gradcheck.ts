import assert from 'node:assert/strict';
import { Tensor, tensor, tidy, noGrad, Rng } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';

/** A float64 tensor of normal samples that requires gradients. */
export function randomInput(shape: number[], rng: Rng, opts: { low?: number; high?: number } = {}): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = opts.low !== undefined ? rng.uniform(opts.low, opts.high ?? 1) : rng.normal();
  return tensor(v, shape).requiresGrad_();
}

/**
 * Checks the gradients of `fn` at `inputs` (float64) against central finite differences of
 * sum(fn(inputs) * w) for a fixed random w, element by element.
 */
export function gradcheck(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: { eps?: number; atol?: number; rtol?: number; seed?: number; only?: number[] } = {}): void {
  const eps = opts.eps ?? 1e-6;
  const atol = opts.atol ?? 1e-6;
  const rtol = opts.rtol ?? 1e-5;
  const rng = new Rng(opts.seed ?? 123);
  tidy(() => {
    const probe = noGrad(() => fn(...inputs));
    const wValues = new Float64Array(probe.size);
    for (let i = 0; i < wValues.length; i++) wValues[i] = rng.normal();
    const w = tensor(wValues, [...probe.shape]);
    const objective = (): number => noGrad(() => tidy(() => ops.sum(ops.mul(fn(...inputs), w)).itemSync()));
    for (const x of inputs) {
      x.grad?.dispose();
      x.grad = null;
    }
    const out = fn(...inputs);
    ops.sum(ops.mul(out, w)).backward();
    inputs.forEach((x, k) => {
      if (opts.only && !opts.only.includes(k)) return;
      if (!x.requiresGrad) return;
      assert.ok(x.grad, `input ${k} received no gradient`);
      const analytic = x.grad!.dataSync();
      const values = (x.storage as unknown as { values: Float64Array }).values;
      for (let i = 0; i < values.length; i++) {
        const orig = values[i];
        values[i] = orig + eps;
        const plus = objective();
        values[i] = orig - eps;
        const minus = objective();
        values[i] = orig;
        const numeric = (plus - minus) / (2 * eps);
        const diff = Math.abs(numeric - analytic[i]);
        if (diff > atol + rtol * Math.abs(numeric)) {
          assert.fail(`gradient of input ${k} [shape ${x.shape.join('x')}] at element ${i}: analytic ${analytic[i]} vs numeric ${numeric} (diff ${diff})`);
        }
      }
      x.grad!.dispose();
      x.grad = null;
    });
  });
}

/** Max |a - b| over two arrays, with a length check. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'length mismatch');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i];
    const a = actual[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (!(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)))) assert.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${tol})`);
  }
}
