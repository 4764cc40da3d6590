/**
 * Fused optimiser updates: one kernel per parameter computes the new parameter and state
 * (PyTorch's SGD and AdamW rules). Not differentiable; the optimisers `assign` the results. A
 * backend may write them into the parameter's and the state's own storage (the webgpu backend
 * does, so parameters keep their buffers): callers must not expect the inputs unchanged.
 */
import { runKernel } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { assertSameDtype, fmt } from './util.js';

export interface SgdUpdateOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

export interface AdamWUpdateOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** The 1-based step count, for the bias corrections. */
  step: number;
}

function check(op: string, param: Tensor, others: (Tensor | null)[]): void {
  if (param.dtype !== 'float32' && param.dtype !== 'float64') throw new Error(`${op}: expected a float32/float64 parameter, got ${param.dtype} of shape ${fmt(param.shape)}`);
  for (const t of others) {
    if (!t) continue;
    assertSameDtype(op, param, t);
    if (t.shape.join() !== param.shape.join()) throw new Error(`${op}: shape ${fmt(t.shape)} differs from the parameter's ${fmt(param.shape)}`);
  }
}

/**
 * One SGD step: returns the new parameter and, with momentum, the new momentum buffer (the
 * weight-decayed gradient itself when `momentumBuffer` is null, PyTorch's first step).
 */
export function sgdUpdate(param: Tensor, grad: Tensor, momentumBuffer: Tensor | null, opts: SgdUpdateOptions): { param: Tensor; momentumBuffer: Tensor | null } {
  check('sgdUpdate', param, [grad, momentumBuffer]);
  const momentum = opts.momentum ?? 0;
  const attrs = {
    lr: opts.lr,
    momentum,
    dampening: opts.dampening ?? 0,
    nesterov: opts.nesterov ?? false,
    weightDecay: opts.weightDecay ?? 0,
    hasBuffer: momentum !== 0 && momentumBuffer !== null,
  };
  const inputs = attrs.hasBuffer ? [param, grad, momentumBuffer!] : [param, grad];
  const [p, buf] = runKernel('sgdUpdate', inputs, attrs);
  return { param: p, momentumBuffer: buf ?? null };
}

/**
 * One AdamW step at `opts.step`: returns the new parameter and moments; `expAvg`/`expAvgSq` are
 * null on the first step (zero moments).
 */
export function adamwUpdate(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor | null,
  expAvgSq: Tensor | null,
  opts: AdamWUpdateOptions,
): { param: Tensor; expAvg: Tensor; expAvgSq: Tensor } {
  check('adamwUpdate', param, [grad, expAvg, expAvgSq]);
  if ((expAvg === null) !== (expAvgSq === null)) throw new Error('adamwUpdate: pass both expAvg and expAvgSq, or neither');
  if (!(Number.isInteger(opts.step) && opts.step >= 1)) throw new Error(`adamwUpdate: step must be an integer >= 1, got ${opts.step}`);
  const [beta1, beta2] = opts.betas ?? [0.9, 0.999];
  const attrs = {
    lr: opts.lr,
    beta1,
    beta2,
    eps: opts.eps ?? 1e-8,
    weightDecay: opts.weightDecay ?? 0.01,
    biasCorrection1: 1 - beta1 ** opts.step,
    biasCorrection2: 1 - beta2 ** opts.step,
    hasState: expAvg !== null,
  };
  const inputs = expAvg && expAvgSq ? [param, grad, expAvg, expAvgSq] : [param, grad];
  const [p, m, v] = runKernel('adamwUpdate', inputs, attrs);
  return { param: p, expAvg: m, expAvgSq: v };
}
