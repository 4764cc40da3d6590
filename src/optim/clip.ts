import { noGrad, tidy, keep } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { add, minimum, mul, sqrt, square, div } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { scalar } from '../ops/creation.js';

/**
 * Scales all gradients so that their global L2 norm is at most maxNorm (clip_grad_norm_).
 * Runs on the device without a readback; returns the norm before clipping (a scalar tensor
 * the caller owns).
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): Tensor {
  const withGrad = params.filter((p) => p.grad);
  if (!withGrad.length) return noGrad(() => keep(scalar(0)));
  return noGrad(() =>
    tidy(() => {
      let total = sum(square(withGrad[0].grad!));
      for (const p of withGrad.slice(1)) total = add(total, sum(square(p.grad!)));
      const norm = sqrt(total);
      const coef = minimum(div(scalar(maxNorm), add(norm, 1e-6)), 1);
      for (const p of withGrad) p.grad!.assign(mul(p.grad!, coef));
      return norm;
    }),
  );
}
