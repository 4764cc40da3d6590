import { runKernel } from '../tensor/engine.js';
import { record, needsGrad } from '../tensor/autograd.js';
import type { Tensor } from '../tensor/tensor.js';
import { assertFloat, assertProductDtypes, fmt, sizeOf } from './util.js';
import { autocastOperands, isAutocasting } from '../tensor/autocast.js';
import { cast } from './elementwise.js';
import { reshape } from './shape.js';
import { sumTo } from './reduce.js';

/**
 * op(a) @ op(b) for rank >= 2 operands with equal leading (batch) dimensions, or a rank-2 `b`
 * shared by every batch of `a`. Not recorded.
 */
export function matmulRaw(op: string, a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  assertFloat(op, a, b);
  assertProductDtypes(op, a, b);
  if (a.ndim < 2 || b.ndim < 2) throw new Error(`${op}: operands must have rank >= 2, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = transA ? ac : ar;
  const K = transA ? ar : ac;
  const Kb = transB ? bc : br;
  const N = transB ? br : bc;
  if (K !== Kb) throw new Error(`${op}: inner dimensions differ: ${fmt(a.shape)}${transA ? 'ᵀ' : ''} @ ${fmt(b.shape)}${transB ? 'ᵀ' : ''} (${K} vs ${Kb})`);
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  if (b.ndim === 2 && !transA) {
    // Fold a's batch into M: one large GEMM instead of many small ones.
    const rows = sizeOf(batchA) * M;
    return runKernel('matmul', [a, b], { batch: 1, M: rows, N, K, transA, transB, outShape: [...batchA, M, N] })[0];
  }
  if (batchA.join() !== batchB.join()) throw new Error(`${op}: batch dimensions differ: ${fmt(a.shape)} vs ${fmt(b.shape)}`);
  return runKernel('matmul', [a, b], { batch: sizeOf(batchA), M, N, K, transA, transB, outShape: [...batchA, M, N] })[0];
}

/** Matrix product with batch support: [..., M, K] @ [..., K, N] (or @ [K, N]). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (isAutocasting()) [a, b] = autocastOperands(cast, a, b);
  const y = matmulRaw('matmul', a, b);
  return record(y, 'matmul', [a, b], (dy) => {
    const da = needsGrad(a) ? matmulRaw('matmul backward', dy, b, false, true) : null;
    let db: Tensor | null = null;
    if (needsGrad(b)) {
      if (b.ndim === 2 && a.ndim > 2) {
        const a2 = reshape(a, [-1, a.shape[a.ndim - 1]]);
        const dy2 = reshape(dy, [-1, dy.shape[dy.ndim - 1]]);
        db = matmulRaw('matmul backward', a2, dy2, true, false);
        a2.dispose();
        dy2.dispose();
      } else {
        db = matmulRaw('matmul backward', a, dy, true, false);
      }
    }
    return [da, db];
  });
}

/** y = x Wᵀ + b with W of shape [out, in] (PyTorch's layout), x of shape [..., in]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  if (isAutocasting()) [x, weight] = autocastOperands(cast, x, weight);
  if (weight.ndim !== 2) throw new Error(`linear: weight must be [outFeatures, inFeatures], got ${fmt(weight.shape)}`);
  const [out, inFeatures] = weight.shape;
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inFeatures) throw new Error(`linear: input ${fmt(x.shape)} does not end in inFeatures=${inFeatures} of weight ${fmt(weight.shape)}`);
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== out)) throw new Error(`linear: bias ${fmt(bias.shape)} must be [${out}] for weight ${fmt(weight.shape)}`);
  const x2 = reshape(x, [-1, inFeatures]);
  const prod = matmulRaw('linear', x2, weight, false, true);
  x2.dispose();
  const outShape = [...x.shape.slice(0, -1), out];
  let y: Tensor;
  if (bias) {
    y = runKernel('binary', [prod, bias], { op: 'add', outShape: [...prod.shape] })[0];
    prod.dispose();
  } else {
    y = prod;
  }
  const shaped = reshape(y, outShape);
  y.dispose();
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(shaped, 'linear', inputs, (dy) => {
    const dy2 = reshape(dy, [-1, out]);
    let dx: Tensor | null = null;
    if (needsGrad(x)) {
      const d = matmulRaw('linear backward', dy2, weight, false, false);
      dx = reshape(d, x.shape);
      d.dispose();
    }
    let dw: Tensor | null = null;
    if (needsGrad(weight)) {
      const xf = reshape(x, [-1, inFeatures]);
      dw = matmulRaw('linear backward', dy2, xf, true, false);
      xf.dispose();
    }
    const db = bias && needsGrad(bias) ? sumTo(dy2, [out]) : null;
    dy2.dispose();
    return bias ? [dx, dw, db] : [dx, dw];
  });
}
