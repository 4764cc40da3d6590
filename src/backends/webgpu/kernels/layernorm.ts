/**
 * Layer normalisation over the last axis (the inference kernel of ops.layerNorm, as
 * src/backends/cpu/kernels/layernorm.ts): a workgroup per row, two-pass mean and biased variance
 * (float32; the cpu kernel sums in float64), the threads' sums combined with subgroup operations
 * where the device has them, else in workgroup memory (./subgroup.ts).
 */
import type { WgslScalar } from '../program.js';
import { wgslType } from '../program.js';
import type { WebGPUStorage } from '../backend.js';
import { gpuKernel, sizeOf, storageOf } from './util.js';
import { useSubgroups, workgroupReductions } from './subgroup.js';

const THREADS = 256;
const MAX_WORKGROUPS_PER_DIM = 65535;

gpuKernel('layerNorm', (b, inputs, attrs) => {
  const [x] = inputs;
  if (wgslType(x.dtype, 'layerNorm') !== 'f32') throw new Error(`layerNorm: expects float32 on the webgpu backend, got ${x.dtype}`);
  let next = 1;
  const weight = attrs.hasWeight ? inputs[next++] : null;
  const bias = attrs.hasBias ? inputs[next++] : null;
  const c = x.shape[x.shape.length - 1];
  const rows = c ? sizeOf(x.shape) / c : 0;
  const out = b.output(x.shape, x.dtype);
  const bindings: [string, WgslScalar][] = [['X', 'f32']];
  const storages: WebGPUStorage[] = [storageOf(x)];
  if (weight) bindings.push(['WEIGHT', 'f32']), storages.push(storageOf(weight));
  if (bias) bindings.push(['BIAS', 'f32']), storages.push(storageOf(bias));
  const y = ['(X[base + j] - m) * rstd', weight ? ' * WEIGHT[j]' : '', bias ? ' + BIAS[j]' : ''].join('');
  const gridY = Math.ceil(rows / MAX_WORKGROUPS_PER_DIM);
  const sg = useSubgroups(b);
  const red = workgroupReductions(THREADS, sg, [
    { name: 'rowSum', op: 'sum', type: 'f32' },
    { name: 'rowSumSq', op: 'sum', type: 'f32' },
  ]);
  b.run(
    {
      name: `layerNorm_${weight ? 'w' : ''}${bias ? 'b' : ''}${sg ? '_sg' : ''}`,
      enables: red.enables,
      inputs: bindings,
      outputs: [['Y', 'f32']],
      uniforms: [['rows', 'u32', rows], ['c', 'u32', c], ['eps', 'f32', attrs.eps as number]],
      code: `
${red.code}
@compute @workgroup_size(${THREADS}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32${red.params}) {
  ${red.init}
  let row = wg.x + wg.y * nwg.x;
  let inRange = row < P.rows;
  let base = select(0u, row * P.c, inRange);
  var sum = 0.0;
  if (inRange) { for (var j = lid; j < P.c; j += ${THREADS}u) { sum += X[base + j]; } }
  let m = rowSum(sum, lid) / f32(P.c);
  var sq = 0.0;
  if (inRange) { for (var j = lid; j < P.c; j += ${THREADS}u) { let d = X[base + j] - m; sq += d * d; } }
  let rstd = 1.0 / sqrt(rowSumSq(sq, lid) / f32(P.c) + P.eps);
  if (inRange) { for (var j = lid; j < P.c; j += ${THREADS}u) { Y[base + j] = ${y}; } }
}`,
      workgroups: [Math.ceil(rows / gridY), gridY, 1],
    },
    storages,
    [out.storage],
  );
  return [out];
});
