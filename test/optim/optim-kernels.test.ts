/**
 * The fused sgdUpdate/adamwUpdate kernels (through optim.SGD and optim.AdamW) against the update
 * composed from element-wise ops, the optimisers' previous implementation, over several steps
 * for every option combination, in float32 and float64 on the cpu backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, noGrad, ops, optim, tensor, type DType, type Tensor } from '../../src/index.js';

const { add, affine, div, sqrt, square } = ops;

/** The composed reference: one state map per parameter, as Optimizer keeps them. */
type Reference = (p: Tensor, g: Tensor, state: Map<string, Tensor>, lr: number, step: number) => Tensor;

function sgdReference(o: optim.SgdOptions): Reference {
  const { momentum = 0, dampening = 0, nesterov = false, weightDecay = 0 } = o;
  return (p, grad, state, lr) => {
    let g = weightDecay ? add(grad, affine(p, weightDecay)) : grad;
    if (momentum) {
      const previous = state.get('momentum_buffer');
      const buf = previous ? add(affine(previous, momentum), affine(g, 1 - dampening)) : affine(g, 1);
      state.set('momentum_buffer', buf);
      g = nesterov ? add(g, affine(buf, momentum)) : buf;
    }
    return add(p, affine(g, -lr));
  };
}

function adamwReference(o: optim.AdamWOptions): Reference {
  const [b1, b2] = o.betas ?? [0.9, 0.999];
  const eps = o.eps ?? 1e-8;
  const weightDecay = o.weightDecay ?? 0.01;
  return (p, grad, state, lr, t) => {
    const m0 = state.get('exp_avg');
    const v0 = state.get('exp_avg_sq');
    const m = m0 ? add(affine(m0, b1), affine(grad, 1 - b1)) : affine(grad, 1 - b1);
    const v = v0 ? add(affine(v0, b2), affine(square(grad), 1 - b2)) : affine(square(grad), 1 - b2);
    state.set('exp_avg', m);
    state.set('exp_avg_sq', v);
    const denom = affine(sqrt(v), 1 / Math.sqrt(1 - b2 ** t), eps);
    const decayed = weightDecay ? affine(p, 1 - lr * weightDecay) : p;
    return add(decayed, affine(div(m, denom), -lr / (1 - b1 ** t)));
  };
}

function assertClose(actual: Tensor, expected: Tensor, rtol: number, what: string): void {
  assert.equal(actual.dtype, expected.dtype, `${what}: dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  const e = expected.dataSync();
  let scale = 0;
  for (let i = 0; i < e.length; i++) scale = Math.max(scale, Math.abs(e[i]));
  for (let i = 0; i < e.length; i++) {
    if (!(Math.abs(a[i] - e[i]) <= rtol * scale)) assert.fail(`${what}[${i}]: expected ${e[i]}, got ${a[i]} (scale ${scale})`);
  }
}

const SHAPES = [[3, 5], [8], [1]];
const STEPS = 5;

/** Runs `make` and the reference side by side for STEPS steps (lr changing halfway) and compares parameters and state. */
function compare(make: (params: Tensor[]) => optim.Optimizer, reference: Reference, dtype: DType, rtol: number, label: string): void {
  const rng = new Rng(7);
  const random = (shape: number[]): Float64Array => Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-2, 2));
  const initial = SHAPES.map(random);
  const params = SHAPES.map((s, i) => tensor(initial[i], s, dtype).requiresGrad_());
  let expected = SHAPES.map((s, i) => tensor(initial[i], s, dtype));
  const states = SHAPES.map(() => new Map<string, Tensor>());
  const opt = make(params);
  for (let step = 1; step <= STEPS; step++) {
    if (step === 3) opt.lr *= 0.5;
    const grads = SHAPES.map(random);
    opt.zeroGrad();
    params.forEach((p, i) => (p.grad = tensor(grads[i], SHAPES[i], dtype)));
    opt.step();
    expected = noGrad(() => expected.map((p, i) => reference(p, tensor(grads[i], SHAPES[i], dtype), states[i], opt.lr, step)));
    const { tensors } = opt.stateDict();
    params.forEach((p, i) => {
      assertClose(p, expected[i], rtol, `${label} ${dtype} step ${step} param ${i}`);
      assert.deepEqual([...tensors.keys()].filter((k) => k.startsWith(`${i}.`)), [...states[i].keys()].map((k) => `${i}.${k}`), `${label}: state names`);
      for (const [name, t] of states[i]) assertClose(tensors.get(`${i}.${name}`)!, t, rtol, `${label} ${dtype} step ${step} ${i}.${name}`);
    });
  }
}

// One rounding per stored value in the fused kernels against one per op in the composition.
const RTOL: Record<string, number> = { float32: 2e-6, float64: 1e-13 };

test('SGD fused update equals the composed update (every option combination)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const momentum of [0, 0.9]) {
      for (const dampening of momentum ? [0, 0.3] : [0]) {
        for (const nesterov of momentum && !dampening ? [false, true] : [false]) {
          for (const weightDecay of [0, 0.01]) {
            const o = { lr: 0.1, momentum, dampening, nesterov, weightDecay };
            compare((p) => new optim.SGD(p, o), sgdReference(o), dtype, RTOL[dtype], `SGD ${JSON.stringify(o)}`);
          }
        }
      }
    }
  }
});

test('AdamW fused update equals the composed update (every option combination)', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const betas of [[0.9, 0.999], [0.5, 0.9]] as [number, number][]) {
      for (const eps of [1e-8, 0.1]) {
        for (const weightDecay of [0, 0.1]) {
          const o = { lr: 0.01, betas, eps, weightDecay };
          compare((p) => new optim.AdamW(p, o), adamwReference(o), dtype, RTOL[dtype], `AdamW ${JSON.stringify(o)}`);
        }
      }
    }
  }
});

test('the update ops validate their inputs', () => {
  const p = tensor([1, 2, 3]);
  assert.throws(() => ops.sgdUpdate(p, tensor([1, 2]), null, { lr: 0.1 }), /sgdUpdate: shape \[2\] differs from the parameter's \[3\]/);
  assert.throws(() => ops.sgdUpdate(p, tensor([1, 2, 3], [3], 'float64'), null, { lr: 0.1 }), /sgdUpdate: dtypes differ/);
  assert.throws(() => ops.sgdUpdate(tensor([1], [1], 'int32'), tensor([1], [1], 'int32'), null, { lr: 0.1 }), /sgdUpdate: expected a float32\/float64 parameter, got int32/);
  assert.throws(() => ops.adamwUpdate(p, p, p, null, { lr: 0.1, step: 2 }), /pass both expAvg and expAvgSq, or neither/);
  assert.throws(() => ops.adamwUpdate(p, p, null, null, { lr: 0.1, step: 0 }), /step must be an integer >= 1/);
  const { param, momentumBuffer } = ops.sgdUpdate(p, tensor([1, 1, 1]), null, { lr: 0.5 });
  assert.deepEqual([...param.dataSync()], [0.5, 1.5, 2.5]);
  assert.equal(momentumBuffer, null);
});
