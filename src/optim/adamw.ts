import type { Tensor } from '../tensor/tensor.js';
import { add, affine, div, sqrt, square } from '../ops/elementwise.js';
import { Optimizer } from './optimizer.js';

export interface AdamWOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

/** Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's AdamW update rule. */
export class AdamW extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;

  constructor(params: Tensor[], opts: AdamWOptions) {
    super(params, opts.lr);
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
  }

  protected update(p: Tensor, grad: Tensor, state: Map<string, Tensor>): void {
    const [b1, b2] = this.betas;
    const t = this.stepCount;
    const m0 = state.get('exp_avg');
    const v0 = state.get('exp_avg_sq');
    this.setState(state, 'exp_avg', m0 ? add(affine(m0, b1), affine(grad, 1 - b1)) : affine(grad, 1 - b1));
    this.setState(state, 'exp_avg_sq', v0 ? add(affine(v0, b2), affine(square(grad), 1 - b2)) : affine(square(grad), 1 - b2));
    const m = state.get('exp_avg')!;
    const v = state.get('exp_avg_sq')!;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    const denom = affine(sqrt(v), 1 / Math.sqrt(bc2), this.eps);
    const decayed = this.weightDecay ? affine(p, 1 - this.lr * this.weightDecay) : p;
    p.assign(add(decayed, affine(div(m, denom), -this.lr / bc1)));
  }
}

