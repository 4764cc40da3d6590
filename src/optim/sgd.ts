import type { Tensor } from '../tensor/tensor.js';
import { sgdUpdate } from '../ops/optim.js';
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
    const next = sgdUpdate(p, grad, state.get('momentum_buffer') ?? null, this);
    if (next.momentumBuffer) this.setState(state, 'momentum_buffer', next.momentumBuffer);
    p.assign(next.param);
  }
}

