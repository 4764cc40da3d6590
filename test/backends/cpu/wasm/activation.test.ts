// The WebAssembly activations (src/backends/cpu/wasm/activation.ts) against the TypeScript
// reference twins (unary / unaryGrad in src/backends/cpu/kernels/elementwise.ts), float32:
// forward and dy * f'(x) on dense grids, random values and special values, and through the
// public ops in both kernel modes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import { unary, unaryGrad, type UnaryGradName } from '../../../../src/backends/cpu/kernels/elementwise.js';
import { activationBackward, activationForward, isActivation, useWasmActivation, WASM_ACTIVATION_MIN_SIZE } from '../../../../src/backends/cpu/wasm/activation.js';
import { ops, tensor, type Tensor } from '../../../../src/index.js';
import { requireWasm, withMode } from './util.js';

const NAMES: UnaryGradName[] = ['relu', 'relu6', 'sigmoid', 'tanh', 'silu', 'gelu', 'hardswish', 'hardsigmoid'];

/** |got - expected| <= 1e-6 * max(|expected|, 1) (an absolute 1e-6 for small values); NaN must match NaN, infinities exactly. */
const ATOL = 1e-6;

function assertNear(got: Float32Array, expected: Float32Array, what: string, x: Float32Array): void {
  assert.equal(got.length, expected.length);
  for (let i = 0; i < got.length; i++) {
    const e = expected[i];
    const g = got[i];
    if (Number.isNaN(e) || Number.isNaN(g)) {
      if (!(Number.isNaN(e) && Number.isNaN(g))) assert.fail(`${what} at x = ${x[i]}: got ${g}, expected ${e}`);
      continue;
    }
    if (!Number.isFinite(e) || !Number.isFinite(g)) {
      if (g !== e) assert.fail(`${what} at x = ${x[i]}: got ${g}, expected ${e}`);
      continue;
    }
    if (!(Math.abs(g - e) <= ATOL * Math.max(Math.abs(e), 1))) assert.fail(`${what} at x = ${x[i]}: got ${g}, expected ${e} (error ${Math.abs(g - e).toExponential(2)})`);
  }
}

const SPECIALS = [
  NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 3, -3, 6, -6, 2.9999998, 3.0000002, -2.9999998, -3.0000002, 6.0000005, 5.9999995,
  0.5, -0.5, 0.49999997, -0.49999997, 88.7, 88.8, 89, -87.3, -88, -100, -104, -110, 4, -4, 5.656854, -5.656854, 0.70710677, -0.70710677, 20, -20, 40, -40,
];

/** A dense grid over [-12, 12], random values of several scales, and the special values; length not a multiple of 4. */
function inputs(rng: Rng): Float32Array {
  const grid = Array.from({ length: 24001 }, (_, i) => -12 + i * 0.001);
  const random = Array.from({ length: 3001 }, (_, i) => rng.normal(0, [0.1, 2, 30][i % 3]));
  return Float32Array.from([...SPECIALS, ...grid, ...random]);
}

test('wasm activations: forward matches the reference within 1e-6 (dense grid, random and special values)', () => {
  requireWasm();
  const x = inputs(new Rng(61));
  for (const name of NAMES) {
    const expected = new Float32Array(x.length);
    unary(name, x, expected);
    assertNear(activationForward(name, x), expected, `${name} forward`, x);
  }
});

test('wasm activations: dy * f\'(x) matches the reference within 1e-6', () => {
  requireWasm();
  const rng = new Rng(62);
  const x = inputs(rng);
  const dy = Float32Array.from(x, () => rng.normal());
  dy[1] = Infinity; // dy = inf at x = inf
  for (const name of NAMES) {
    const expected = new Float32Array(x.length);
    unaryGrad(name, x, dy, expected);
    assertNear(activationBackward(name, x, dy), expected, `${name} gradient`, x);
  }
});

test('wasm activations keep the reference semantics at kinks, NaN and signed zeros', () => {
  requireWasm();
  const x = Float32Array.from([NaN, -0, 0, -1.5, 6, 7, -3, 3, -Infinity, Infinity]);
  const f = (name: UnaryGradName): Float32Array => activationForward(name, x);
  const same = (got: Float32Array, expected: number[], what: string): void => {
    for (let i = 0; i < expected.length; i++) assert.ok(Object.is(got[i], expected[i]), `${what}[${i}] (x = ${x[i]}): got ${got[i]}, expected ${expected[i]}`);
  };
  same(f('relu'), [NaN, 0, 0, 0, 6, 7, 0, 3, 0, Infinity], 'relu');
  same(f('relu6'), [NaN, 0, 0, 0, 6, 6, 0, 3, 0, 6], 'relu6');
  same(f('hardsigmoid'), [NaN, 0.5, 0.5, 0.25, 1, 1, 0, 1, 0, 1], 'hardsigmoid');
  const dy = new Float32Array(x.length).fill(2);
  same(activationBackward('relu', x, dy), [0, 0, 0, 0, 2, 2, 0, 2, 0, 2], 'relu grad');
  same(activationBackward('relu6', x, dy), [0, 0, 0, 0, 0, 0, 0, 2, 0, 0], 'relu6 grad');
  same(activationBackward('hardswish', x, dy), [2, 1, 1, 0, 2, 2, -1, 3, 0, 2], 'hardswish grad');
  same(activationBackward('hardsigmoid', x, dy), [0, Math.fround(2 / 6), Math.fround(2 / 6), Math.fround(2 / 6), 0, 0, 0, 0, 0, 0], 'hardsigmoid grad');
});

test('activation routing: thresholds and names', () => {
  assert.ok(isActivation('gelu') && !isActivation('exp') && !isActivation('neg'));
  for (const name of NAMES) {
    assert.ok(!useWasmActivation(name, WASM_ACTIVATION_MIN_SIZE[name] - 1));
    assert.ok(useWasmActivation(name, WASM_ACTIVATION_MIN_SIZE[name]));
  }
  assert.ok(!useWasmActivation('exp', 1 << 20));
});

// ---------------------------------------------------------------------------------------------
// Through the public ops

test('activations through the ops: forward and gradients agree between wasm and reference modes', () => {
  requireWasm();
  const rng = new Rng(63);
  const fns: Record<UnaryGradName, (t: Tensor) => Tensor> = {
    relu: ops.relu, relu6: ops.relu6, sigmoid: ops.sigmoid, tanh: ops.tanh, silu: ops.silu, gelu: ops.gelu, hardswish: ops.hardswish, hardsigmoid: ops.hardsigmoid,
  };
  // above every threshold, so wasm mode runs the WebAssembly kernels
  const shape = [3, 5, 17, 19];
  const size = shape.reduce((a, b) => a * b, 1);
  assert.ok(size >= Math.max(...Object.values(WASM_ACTIVATION_MIN_SIZE)));
  const xv = Float32Array.from({ length: size }, () => rng.normal(0, 4));
  const rv = Float32Array.from({ length: size }, () => rng.normal());
  for (const name of NAMES) {
    const run = (): Float32Array[] => {
      const x = tensor(xv, shape).requiresGrad_();
      const r = tensor(rv, shape);
      const y = fns[name](x);
      ops.sum(ops.mul(y, r)).backward();
      const out = [y.dataSync() as Float32Array, x.grad!.dataSync() as Float32Array];
      for (const t of [y, x.grad!, x, r]) t.dispose();
      return out;
    };
    const ref = withMode('reference', run);
    const got = withMode('wasm', run);
    assertNear(got[0], ref[0], `${name} forward (ops)`, xv);
    assertNear(got[1], ref[1], `${name} gradient (ops)`, xv);
  }
});
