import type { Tensor } from '../tensor/tensor.js';
import { adamwUpdate } from '../ops/optim.js';
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
    const opts = { lr: this.lr, betas: this.betas, eps: this.eps, weightDecay: this.weightDecay, step: this.stepCount };
    const next = adamwUpdate(p, grad, state.get('exp_avg') ?? null, state.get('exp_avg_sq') ?? null, opts);
    this.setState(state, 'exp_avg', next.expAvg);
    this.setState(state, 'exp_avg_sq', next.expAvgSq);
    p.assign(next.param);
  }
}

