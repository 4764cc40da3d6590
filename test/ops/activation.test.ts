import { test } from 'node:test';
import { tensor, Rng } from '../../src/index.js';
import * as ops from '../../src/ops/index.js';
import { erf } from '../../src/backends/cpu/kernels/elementwise.js';
import { gradcheck, randomInput, assertClose } from '../helpers/gradcheck.js';
import assert from 'node:assert/strict';

const rng = new Rng(2);
const xs = [-7, -3.5, -3, -1, -0.2, 0.5, 2.9, 3, 4, 6.5];

test('activation forwards match their formulas', () => {
  const x = tensor(new Float64Array(xs));
  const check = (y: ReturnType<typeof ops.relu>, f: (v: number) => number) => assertClose(y.dataSync(), xs.map(f), 1e-12);
  check(ops.relu(x), (v) => Math.max(v, 0));
  check(ops.relu6(x), (v) => Math.min(Math.max(v, 0), 6));
  check(ops.sigmoid(x), (v) => 1 / (1 + Math.exp(-v)));
  check(ops.tanh(x), Math.tanh);
  check(ops.silu(x), (v) => v / (1 + Math.exp(-v)));
  check(ops.hardswish(x), (v) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6);
  check(ops.hardsigmoid(x), (v) => Math.min(Math.max(v + 3, 0), 6) / 6);
  check(ops.gelu(x), (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)));
});

test('erf matches reference values to double precision', () => {
  // Values from tables of the error function.
  const cases: [number, number][] = [[0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2, 0.9953222650189527], [3.5, 0.9999992569016276], [5, 0.9999999999984626], [-1, -0.8427007929497149]];
  for (const [x, e] of cases) assert.ok(Math.abs(erf(x) - e) < 1e-15, `erf(${x}) = ${erf(x)}, expected ${e}`);
});

test('activation gradients (finite differences, away from kinks)', () => {
  const x = randomInput([3, 7], rng);
  const wide = tensor(new Float64Array([-5, -2.5, -1, -0.3, 0.4, 1.7, 2.2, 5.5, 7, -4])).requiresGrad_();
  for (const f of [ops.relu, ops.relu6, ops.sigmoid, ops.tanh, ops.silu, ops.gelu, ops.hardswish, ops.hardsigmoid]) {
    gradcheck((t) => f(t), [x]);
    gradcheck((t) => f(t), [wide]);
  }
});
