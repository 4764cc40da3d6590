import { runKernel } from '../tensor/engine.js';
import { record } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import { assertFloat, normalizeAxis, sizeOf } from './util.js';

function block(x: Tensor, axis: number): [number, number, number] {
  return [sizeOf(x.shape.slice(0, axis)), x.shape[axis], sizeOf(x.shape.slice(axis + 1))];
}

function binary(op: string, a: Tensor, b: Tensor, outShape: readonly number[]): Tensor {
  return runKernel('binary', [a, b], { op, outShape: [...outShape] })[0];
}

function sumKeep(t: Tensor, axis: number): Tensor {
  const [outer, n, inner] = block(t, axis);
  const outShape = t.shape.map((d, i) => (i === axis ? 1 : d));
  return runKernel('reduce', [t], { op: 'sum', block: [outer, n, inner], outShape })[0];
}

/** exp(x) / sum(exp(x)) along `axis`, computed stably. */
export function softmax(x: Tensor, axis = -1): Tensor {
  assertFloat('softmax', x);
  const a = normalizeAxis('softmax', axis, x.ndim);
  const y = runKernel('softmax', [x], { block: block(x, a), log: false })[0];
  return record(y, 'softmax', [x], (dy) => {
    // dx = y * (dy - sum(dy * y))
    const p = binary('mul', dy, y, y.shape);
    const s = sumKeep(p, a);
    const d = binary('sub', dy, s, y.shape);
    const dx = binary('mul', y, d, y.shape);
    for (const t of [p, s, d]) t.dispose();
    return [dx];
  });
}

/** x - log(sum(exp(x))) along `axis`, computed stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  assertFloat('logSoftmax', x);
  const a = normalizeAxis('logSoftmax', axis, x.ndim);
  const y = runKernel('softmax', [x], { block: block(x, a), log: true })[0];
  return record(y, 'logSoftmax', [x], (dy) => {
    // dx = dy - softmax(x) * sum(dy)
    const e = runKernel('unary', [y], { op: 'exp' })[0];
    const s = sumKeep(dy, a);
    const p = binary('mul', e, s, y.shape);
    const dx = binary('sub', dy, p, y.shape);
    for (const t of [e, s, p]) t.dispose();
    return [dx];
  });
}
