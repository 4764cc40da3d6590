/**
 * The kernels that reduce in a workgroup (reduce, softmax, batch norm, layer norm) on both of
 * their paths: with subgroup operations (where the adapter offers 'subgroups', as lavapipe does)
 * and with the workgroup-memory tree (forced with setWebGPUSubgroups(false)). Each against the cpu
 * backend, on sizes below, at and above the workgroup (1, 3, 64, 257, 1000+), forward and the
 * backward passes that run these kernels.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, getBackend, ops, profileWebGPU, setBackend, tensor, type Tensor } from '../../../src/index.js';
import type { WebGPUBackend } from '../../../src/backends/webgpu/backend.js';
import { setWebGPUSubgroups, useSubgroups } from '../../../src/backends/webgpu/kernels/subgroup.js';
import { assertClose, compareKernel, intInput, maxAbs, randomInput, skipReason, type Input } from './helpers.js';

const rng = new Rng(4242);

/** Runs `fn` with the subgroup paths on (where the device has them) or forced off. */
async function withSubgroups<T>(on: boolean, fn: () => Promise<T>): Promise<T> {
  setWebGPUSubgroups(on ? undefined : false);
  try {
    return await fn();
  } finally {
    setWebGPUSubgroups(undefined);
  }
}

/** Runs an op-level computation on both backends; every returned tensor of webgpu must match cpu's. */
async function compareOps(label: string, inputs: readonly Input[], fn: (xs: Tensor[]) => Tensor[], rtol = 1e-5): Promise<void> {
  const results: Float32Array[][] = [];
  for (const backend of ['cpu', 'webgpu']) {
    setBackend(backend);
    try {
      const xs = inputs.map((i) => tensor(i.values.slice(), i.shape));
      const outs = fn(xs);
      results.push(await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array)));
      for (const t of [...outs, ...xs]) t.dispose();
    } finally {
      setBackend('cpu');
    }
  }
  const [cpu, gpu] = results;
  cpu.forEach((expected, k) => assertClose(gpu[k], expected, rtol, `${label} output ${k}`));
}

/** A leaf that records gradients. */
const leaf = (t: Tensor): Tensor => t.requiresGrad_();

describe('webgpu workgroup reductions, with and without subgroups', { skip: skipReason ?? false }, () => {
  test('the device lays subgroups out as the kernels assume (consecutive, full, size 4..128)', async (t: TestContext) => {
    setBackend('webgpu');
    const backend = getBackend('webgpu') as WebGPUBackend;
    setBackend('cpu');
    if (!backend.context.features.subgroups) {
      t.diagnostic(`${backend.context.adapterInfo}: no 'subgroups' feature, only the tree path runs`);
      return;
    }
    const out = backend.createStorage(256 * 4);
    backend.run(
      {
        name: 'subgroupLayout',
        enables: ['subgroups'],
        inputs: [],
        outputs: [['O', 'u32']],
        code: `@compute @workgroup_size(256) fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) size: u32) {
  let members = subgroupAdd(1u);
  let first = subgroupBroadcastFirst(lid);
  O[lid] = select(0xffffffffu, lane | (size << 8u) | (first << 16u), members == size);
}`,
        workgroups: [1],
      },
      [],
      [out],
    );
    const words = (await backend.read(out, 'int32', 256)) as Int32Array;
    backend.free(out);
    const sizes = new Set<number>();
    for (let lid = 0; lid < 256; lid++) {
      const w = words[lid] >>> 0;
      assert.notEqual(w, 0xffffffff, `invocation ${lid}: its subgroup is not full`);
      const [lane, size, first] = [w & 255, (w >>> 8) & 255, w >>> 16];
      sizes.add(size);
      assert.ok(size >= 4 && size <= 128 && (size & (size - 1)) === 0, `subgroup size ${size}`);
      assert.equal(lane, lid % size, `invocation ${lid}: lane`);
      assert.equal(first, lid - lane, `invocation ${lid}: first invocation of its subgroup`);
    }
    t.diagnostic(`${backend.context.adapterInfo}: subgroup size ${[...sizes].join(', ')}`);
  });

  for (const on of [true, false]) {
    const mode = on ? 'subgroups' : 'tree';

    test(`${mode}: the kernels record the ${mode} programs`, async (t: TestContext) => {
      setBackend('webgpu');
      const backend = getBackend('webgpu') as WebGPUBackend;
      setBackend('cpu');
      const expected = on && backend.context.features.subgroups;
      await withSubgroups(on, async () => {
        assert.equal(useSubgroups(backend), expected);
        if (!backend.context.features.timestampQuery) return t.diagnostic('no timestamp-query: program names not checked');
        setBackend('webgpu');
        try {
          const x = tensor(randomInput([4, 300], rng).values, [4, 300]);
          const profile = await profileWebGPU(async () => {
            const outs = [ops.sum(x, 1), ops.softmax(x, 1), ops.layerNorm(x, null, null), ops.batchNorm(ops.reshape(x, [4, 3, 100]), null, null, null, null, { training: true })];
            for (const o of outs) await o.data();
          });
          const names = profile.kernels.map((k) => k.kernel);
          for (const prefix of ['reduce_rows_sum', 'softmax_rows', 'layerNorm_', 'batchNormTrain_']) {
            const name = names.find((n) => n.startsWith(prefix));
            assert.ok(name, `${prefix} in ${names.join(', ')}`);
            assert.equal(name.endsWith('_sg'), expected, `${name}`);
          }
        } finally {
          setBackend('cpu');
        }
      });
    });

    test(`${mode}: reduce sum/max/min over rows, float32 and int32`, async () => {
      await withSubgroups(on, async () => {
        // [outer, reduced, 1] with reduced >= 64 takes a workgroup per row; 1 and 3 a thread per row.
        const blocks: [number, number, number][] = [[1, 1, 1], [2, 3, 1], [1, 64, 1], [3, 257, 1], [2, 1000, 1], [1, 4099, 1], [5, 255, 1], [4, 70001, 1], [65537, 64, 1], [3, 5, 7]];
        for (const block of blocks) {
          const outShape = [block[0], block[2]];
          const x = randomInput(block, rng);
          for (const op of ['sum', 'max', 'min']) await compareKernel('reduce', [x], { op, block, outShape }, 1e-5, `${mode} reduce ${op} ${block}`);
          const neg = randomInput(block, rng, -9, -1); // max below 0 and min above: identities would show
          await compareKernel('reduce', [neg], { op: 'max', block, outShape }, 0, `${mode} reduce max of negatives ${block}`);
          await compareKernel('reduce', [randomInput(block, rng, 1, 9)], { op: 'min', block, outShape }, 0, `${mode} reduce min of positives ${block}`);
          if (block[0] * block[1] < 300000) {
            const xi = intInput(block, rng, 1000);
            for (let i = 0; i < xi.values.length; i++) xi.values[i] -= 500;
            for (const op of ['sum', 'max', 'min']) await compareKernel('reduce', [xi], { op, block, outShape }, 0, `${mode} reduce int32 ${op} ${block}`);
          }
        }
      });
    });

    test(`${mode}: softmax and log-softmax over rows`, async () => {
      await withSubgroups(on, async () => {
        const blocks: [number, number, number][] = [[1, 1, 1], [4, 3, 1], [2, 64, 1], [3, 257, 1], [2, 1000, 1], [1, 4099, 1], [2, 5, 7]];
        for (const block of blocks) {
          for (const [low, high] of [[-1, 1], [-40, 60]]) {
            const x = randomInput(block, rng, low, high);
            for (const log of [false, true]) await compareKernel('softmax', [x], { block, log }, 1e-5, `${mode} softmax log=${log} ${block} in [${low}, ${high}]`);
          }
        }
      });
    });

    test(`${mode}: cross-entropy and softmax, loss and gradient`, async () => {
      await withSubgroups(on, async () => {
        for (const [n, c] of [[1, 1], [3, 3], [2, 257], [4, 1000], [1, 4099]]) {
          const logits = randomInput([n, c], rng, -5, 5);
          const labels = intInput([n], rng, c);
          await compareOps(`${mode} crossEntropy [${n}, ${c}]`, [logits], ([x]) => {
            const z = leaf(x);
            const loss = ops.crossEntropy(z, tensor(labels.values.slice(), [n], 'int32'), { labelSmoothing: 0.1 });
            loss.backward();
            return [loss, z.grad as Tensor];
          });
          const dy = randomInput([n, c], rng);
          await compareOps(`${mode} softmax backward [${n}, ${c}]`, [logits, dy], ([x, g]) => {
            const z = leaf(x);
            const y = ops.softmax(z, 1);
            ops.sum(ops.mul(y, g)).backward();
            return [y, z.grad as Tensor];
          });
        }
      });
    });

    test(`${mode}: batch norm kernels (train and backward)`, async () => {
      await withSubgroups(on, async () => {
        // N * spatial values per channel: 1, 3, 64, 257, 1122, 4099 (rows longer than the workgroup).
        const shapes = [[1, 3], [3, 2], [1, 2, 64], [257, 3], [2, 3, 33, 17], [1, 2, 4099], [4, 5, 7, 9]];
        for (const shape of shapes) {
          const c = shape[1];
          for (const [low, high] of [[-2, 3], [3, 5]]) {
            const x = randomInput(shape, rng, low, high);
            const gamma = randomInput([c], rng, 0.5, 1.5);
            const beta = randomInput([c], rng);
            await compareKernel('batchNormTrain', [x, gamma, beta], { eps: 1e-5 }, 1e-5, `${mode} batchNormTrain ${shape} in [${low}, ${high}]`);
            await compareKernel('batchNormTrain', [x], { eps: 1e-3 }, 1e-5, `${mode} batchNormTrain no affine ${shape}`);
            const mean = randomInput([c], rng, low, high);
            const invStd = randomInput([c], rng, 0.1, 3);
            await compareKernel('batchNormBackward', [randomInput(shape, rng), x, mean, invStd, gamma], {}, 1e-5, `${mode} batchNormBackward ${shape}`);
            await compareKernel('batchNormBackward', [randomInput(shape, rng), x, mean, invStd], {}, 1e-5, `${mode} batchNormBackward no gamma ${shape}`);
          }
        }
      });
    });

    test(`${mode}: batch norm in training, forward and gradients`, async () => {
      await withSubgroups(on, async () => {
        for (const shape of [[3, 2], [8, 3, 9, 9], [2, 4, 700]]) {
          const c = shape[1];
          const x = randomInput(shape, rng, -2, 3);
          const w = randomInput([c], rng, 0.5, 1.5);
          const b = randomInput([c], rng);
          const dy = randomInput(shape, rng);
          await compareOps(
            `${mode} batchNorm training ${shape}`,
            [x, w, b, dy],
            ([xt, wt, bt, g]) => {
              const [xl, wl, bl] = [leaf(xt), leaf(wt), leaf(bt)];
              const y = ops.batchNorm(xl, null, null, wl, bl, { training: true, eps: 1e-5 });
              ops.sum(ops.mul(y, g)).backward();
              return [y, xl.grad as Tensor, wl.grad as Tensor, bl.grad as Tensor];
            },
            1e-4,
          );
        }
      });
    });

    test(`${mode}: layer norm`, async () => {
      await withSubgroups(on, async () => {
        for (const shape of [[1, 1], [5, 3], [2, 64], [3, 257], [2, 1000], [1, 4099], [2, 3, 300]]) {
          const c = shape[shape.length - 1];
          for (const [low, high] of [[-2, 3], [10, 12]]) {
            const x = randomInput(shape, rng, low, high);
            const weight = randomInput([c], rng, 0.5, 1.5);
            const bias = randomInput([c], rng);
            await compareKernel('layerNorm', [x, weight, bias], { eps: 1e-6, hasWeight: true, hasBias: true }, 1e-5, `${mode} layerNorm ${shape} in [${low}, ${high}]`);
            await compareKernel('layerNorm', [x], { eps: 1e-5, hasWeight: false, hasBias: false }, 1e-5, `${mode} layerNorm plain ${shape}`);
          }
        }
      });
    });
  }

  test('both paths give the same values (to float32 rounding) on one input', async () => {
    const x = randomInput([6, 3000], rng, -3, 3);
    const results: Float32Array[][] = [];
    for (const on of [true, false]) {
      results.push(
        await withSubgroups(on, async () => {
          setBackend('webgpu');
          try {
            const t = tensor(x.values.slice(), x.shape);
            const outs = [ops.sum(t, 1), ops.max(t, 1), ops.logSoftmax(t, 1), ops.layerNorm(t, null, null)];
            return Promise.all(outs.map(async (o) => (await o.data()) as Float32Array));
          } finally {
            setBackend('cpu');
          }
        }),
      );
    }
    results[0].forEach((a, k) => assertClose(a, results[1][k], 1e-5, `output ${k}`, maxAbs(results[1][k])));
  });
});
