import type { Tensor } from '../tensor/tensor.js';
import { add, affine } from '../ops/elementwise.js';
import { Optimizer } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/** Stochastic gradient descent with momentum and Nesterov momentum, PyTorch's update rule. */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(params: Tensor[], opts: SgdOptions) {
    super(params, opts.lr);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new Error('SGD: Nesterov momentum requires momentum > 0 and dampening 0');
  }

  protected update(p: Tensor, grad: Tensor, state: Map<string, Tensor>): void {
    let g = this.weightDecay ? add(grad, affine(p, this.weightDecay)) : grad;
    if (this.momentum) {
      const previous = state.get('momentum_buffer');
      const buf = previous ? add(affine(previous, this.momentum), affine(g, 1 - this.dampening)) : affine(g, 1);
      this.setState(state, 'momentum_buffer', buf);
      const current = state.get('momentum_buffer')!;
      g = this.nesterov ? add(g, affine(current, this.momentum)) : current;
    }
    p.assign(add(p, affine(g, -this.lr)));
  }
}

