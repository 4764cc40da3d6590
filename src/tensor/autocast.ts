/**
 * Mixed precision, PyTorch's autocast for float16: inside `autocast(fn)`, conv2d, matmul and
 * linear cast their float32 operands (activations and weights) to float16 and multiply them
 * with float32 sums and float32 results; every other op, the parameters (master weights), their
 * gradients and the optimizer stay float32. Gradients flow back through the casts in float32, so
 * they cannot underflow in float16 and need no loss scaling.
 */
import type { Tensor } from './tensor.js';

export interface AutocastOptions {
  /** Only 'float16' (the default). */
  dtype?: 'float16';
  /** false runs `fn` in full precision (handy to switch mixed precision with a flag). */
  enabled?: boolean;
}

let active = false;

/** Runs the synchronous `fn` with mixed precision (see the module comment); returns its result. */
export function autocast<T>(fn: () => T, opts: AutocastOptions = {}): T {
  if (opts.dtype !== undefined && opts.dtype !== 'float16') throw new Error(`autocast: dtype must be 'float16', got '${opts.dtype as string}'`);
  const previous = active;
  active = opts.enabled ?? true;
  try {
    const result = fn();
    if (result instanceof Promise) throw new Error('autocast(fn): fn must be synchronous (it returned a Promise); await outside autocast, e.g. autocast(() => model.forward(x))');
    return result;
  } finally {
    active = previous;
  }
}

/** Whether ops run under autocast now. */
export function isAutocasting(): boolean {
  return active;
}

/**
 * The operands of a product under autocast: float32 tensors cast to float16 through `cast` (a
 * recorded op, so gradients reach the float32 originals); anything else unchanged.
 */
export function autocastOperands(cast: (t: Tensor, dtype: 'float16') => Tensor, ...tensors: Tensor[]): Tensor[] {
  if (!active) return tensors;
  return tensors.map((t) => (t.dtype === 'float32' ? cast(t, 'float16') : t));
}
