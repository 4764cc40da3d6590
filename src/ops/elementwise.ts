import { runKernel } from '../tensor/engine.js';
import { record, needsGrad } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import type { BinaryName, UnaryName } from '../backends/cpu/kernels/elementwise.js';
import { assertFloat, assertSameDtype, broadcastShapes } from './util.js';
import { scalar } from './creation.js';
import { sumTo } from './reduce.js';

function binaryRaw(op: BinaryName, a: Tensor, b: Tensor, outDtype?: string): Tensor {
  assertSameDtype(op, a, b);
  const outShape = broadcastShapes(op, a.shape, b.shape);
  return runKernel('binary', [a, b], { op, outShape, outDtype })[0];
}

function asTensor(value: Tensor | number, like: Tensor): Tensor {
  return typeof value === 'number' ? scalar(value, like.dtype) : value;
}

/** y = x * scale + shift for scalar scale and shift. */
export function affine(x: Tensor, scale: number, shift = 0): Tensor {
  assertFloat('affine', x);
  const y = runKernel('affine', [x], { scale, shift })[0];
  return record(y, 'affine', [x], (dy) => [affine(dy, scale, 0)]);
}

export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a, 1, b);
  const y = binaryRaw('add', a, b);
  return record(y, 'add', [a, b], (dy) => [sumTo(dy, a.shape), sumTo(dy, b.shape)]);
}

export function sub(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a, 1, -b);
  const y = binaryRaw('sub', a, b);
  return record(y, 'sub', [a, b], (dy) => [sumTo(dy, a.shape), needsGrad(b) ? sumTo(neg(dy), b.shape) : null]);
}

export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a, b, 0);
  const y = binaryRaw('mul', a, b);
  return record(y, 'mul', [a, b], (dy) => [
    needsGrad(a) ? reduceProduct(dy, b, a.shape) : null,
    needsGrad(b) ? reduceProduct(dy, a, b.shape) : null,
  ]);
}

function reduceProduct(dy: Tensor, other: Tensor, shape: readonly number[]): Tensor {
  const p = binaryRaw('mul', dy, other);
  const r = sumTo(p, shape);
  p.dispose();
  return r;
}

export function div(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a, 1 / b, 0);
  const y = binaryRaw('div', a, b);
  return record(y, 'div', [a, b], (dy) => {
    const da = needsGrad(a) ? sumToDisposing(binaryRaw('div', dy, b), a.shape) : null;
    let db: Tensor | null = null;
    if (needsGrad(b)) {
      // d(a/b)/db = -a / b^2 = -y / b
      const t1 = binaryRaw('mul', dy, y);
      const t2 = binaryRaw('div', t1, b);
      t1.dispose();
      db = sumToDisposing(runKernel('affine', [t2], { scale: -1, shift: 0 })[0], b.shape);
      t2.dispose();
    }
    return [da, db];
  });
}

function sumToDisposing(t: Tensor, shape: readonly number[]): Tensor {
  const r = sumTo(t, shape);
  t.dispose();
  return r;
}

/** Element-wise maximum; the gradient goes to `a` where a >= b (as PyTorch splits ties evenly, ties are rare in practice). */
export function maximum(a: Tensor, b: Tensor | number): Tensor {
  const bt = asTensor(b, a);
  const y = binaryRaw('maximum', a, bt);
  return record(y, 'maximum', [a, bt], (dy) => {
    const mask = binaryRaw('equal', y, a);
    const da = reduceProduct(dy, mask, a.shape);
    let db: Tensor | null = null;
    if (needsGrad(bt)) {
      const inv = runKernel('affine', [mask], { scale: -1, shift: 1 })[0];
      db = reduceProduct(dy, inv, bt.shape);
      inv.dispose();
    }
    mask.dispose();
    return [da, db];
  });
}

export function minimum(a: Tensor, b: Tensor | number): Tensor {
  return neg(maximum(neg(a), typeof b === 'number' ? -b : neg(b)));
}

/** Element-wise comparisons: 1 where true, 0 where false, in the input dtype (not differentiable). */
export const greater = (a: Tensor, b: Tensor | number): Tensor => binaryRaw('greater', a, asTensor(b, a));
export const less = (a: Tensor, b: Tensor | number): Tensor => binaryRaw('less', a, asTensor(b, a));
export const equal = (a: Tensor, b: Tensor | number): Tensor => binaryRaw('equal', a, asTensor(b, a));

function unaryRaw(op: UnaryName, x: Tensor): Tensor {
  return runKernel('unary', [x], { op })[0];
}

export function neg(x: Tensor): Tensor {
  return affine(x, -1, 0);
}

export function exp(x: Tensor): Tensor {
  assertFloat('exp', x);
  const y = unaryRaw('exp', x);
  return record(y, 'exp', [x], (dy) => [binaryRaw('mul', dy, y)]);
}

export function log(x: Tensor): Tensor {
  assertFloat('log', x);
  const y = unaryRaw('log', x);
  return record(y, 'log', [x], (dy) => [binaryRaw('div', dy, x)]);
}

export function sqrt(x: Tensor): Tensor {
  assertFloat('sqrt', x);
  const y = unaryRaw('sqrt', x);
  return record(y, 'sqrt', [x], (dy) => {
    const t = binaryRaw('div', dy, y);
    const r = runKernel('affine', [t], { scale: 0.5, shift: 0 })[0];
    t.dispose();
    return [r];
  });
}

export function square(x: Tensor): Tensor {
  assertFloat('square', x);
  const y = unaryRaw('square', x);
  return record(y, 'square', [x], (dy) => {
    const t = binaryRaw('mul', dy, x);
    const r = runKernel('affine', [t], { scale: 2, shift: 0 })[0];
    t.dispose();
    return [r];
  });
}

export function abs(x: Tensor): Tensor {
  const y = unaryRaw('abs', x);
  return record(y, 'abs', [x], (dy) => {
    const s = unaryRaw('sign', x);
    const r = binaryRaw('mul', dy, s);
    s.dispose();
    return [r];
  });
}

/** x ** exponent for a scalar exponent. */
export function pow(x: Tensor, exponent: number): Tensor {
  assertFloat('pow', x);
  const e = scalar(exponent, x.dtype);
  const y = binaryRaw('pow', x, e);
  e.dispose();
  return record(y, 'pow', [x], (dy) => {
    const e1 = scalar(exponent - 1, x.dtype);
    const p = binaryRaw('pow', x, e1);
    e1.dispose();
    const t = binaryRaw('mul', dy, p);
    p.dispose();
    const r = runKernel('affine', [t], { scale: exponent, shift: 0 })[0];
    t.dispose();
    return [r];
  });
}

/** A copy with its own storage (differentiable). */
export function clone(x: Tensor): Tensor {
  const y = runKernel('affine', [x], { scale: 1, shift: 0 })[0];
  return record(y, 'clone', [x], (dy) => [runKernel('affine', [dy], { scale: 1, shift: 0 })[0]]);
}

export function cast(x: Tensor, dtype: Tensor['dtype']): Tensor {
  if (x.dtype === dtype) return clone(x);
  const y = runKernel('cast', [x], { dtype })[0];
  // Under autocast the float16 products already return float32 gradients: no copy then.
  return record(y, 'cast', [x], (dy) => [dy.dtype === x.dtype ? dy.detach() : runKernel('cast', [dy], { dtype: x.dtype })[0]]);
}
