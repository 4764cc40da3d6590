import { keep, noGrad, tidy } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Base of the optimisers: holds the parameters, the learning rate (which schedules set),
 * per-parameter state tensors and the step count. Updates run on the parameters' backend
 * with no readback and replace parameter values in place (`assign`).
 */
export abstract class Optimizer {
  lr: number;
  stepCount = 0;
  protected readonly state = new Map<number, Map<string, Tensor>>();

  constructor(readonly params: Tensor[], lr: number) {
    if (!(lr >= 0)) throw new Error(`optimizer: learning rate must be a non-negative number, got ${lr}`);
    this.lr = lr;
  }

  /** Applies one update from the current `.grad` of every parameter that has one. */
  step(): void {
    this.stepCount++;
    noGrad(() =>
      tidy(() => {
        this.params.forEach((p, i) => {
          if (!p.grad || !p.requiresGrad) return;
          this.update(p, p.grad, this.slot(i));
        });
      }),
    );
  }

  protected abstract update(param: Tensor, grad: Tensor, state: Map<string, Tensor>): void;

  private slot(i: number): Map<string, Tensor> {
    let s = this.state.get(i);
    if (!s) this.state.set(i, (s = new Map()));
    return s;
  }

  /** Stores a state tensor that outlives the step's scope. */
  protected setState(state: Map<string, Tensor>, name: string, value: Tensor): void {
    const old = state.get(name);
    if (old) old.assign(value);
    else state.set(name, keep(value));
  }

  /** Disposes every parameter's gradient (gradients accumulate otherwise). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** State tensors by name `<paramIndex>.<slot>`, plus the step count, for checkpoints. */
  stateDict(): { tensors: Map<string, Tensor>; stepCount: number; lr: number } {
    const tensors = new Map<string, Tensor>();
    for (const [i, s] of this.state) for (const [name, t] of s) tensors.set(`${i}.${name}`, t);
    return { tensors, stepCount: this.stepCount, lr: this.lr };
  }

  loadStateDict(sd: { tensors: Map<string, Tensor>; stepCount: number; lr?: number }): void {
    this.stepCount = sd.stepCount;
    if (sd.lr !== undefined) this.lr = sd.lr;
    for (const [key, t] of sd.tensors) {
      const dot = key.indexOf('.');
      const index = Number(key.slice(0, dot));
      const p = this.params[index];
      if (!p || p.shape.join() !== t.shape.join()) {
        throw new Error(`optimizer.loadStateDict: state '${key}' of shape [${t.shape.join(', ')}] does not fit parameter ${index}${p ? ` of shape [${p.shape.join(', ')}]` : ' (no such parameter)'}`);
      }
      this.setState(this.slot(index), key.slice(dot + 1), noGrad(() => t.clone()));
    }
  }
}
