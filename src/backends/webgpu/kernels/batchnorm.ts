/**
 * Batch normalisation over axis 1 of [N, C, ...] (as src/backends/cpu/kernels/batchnorm.ts): the
 * training forward and the backward run one workgroup per channel, each thread summing a strided
 * part in float32 and the threads' sums combined with subgroup operations where the device has
 * them, else pairwise in workgroup memory (./subgroup.ts; the cpu kernel sums in float64);
 * inference is element-wise.
 */
import type { KernelTensor } from '../../backend.js';
import type { KernelAttrs } from '../../registry.js';
import { FLAT_INDEX, MAIN_1D, grid1d, wgslType, type WgslScalar } from '../program.js';
import { gpuKernel, storageOf } from './util.js';
import { useSubgroups, workgroupReductions } from './subgroup.js';
import type { WebGPUBackend } from '../backend.js';

const THREADS = 256;

function layout(x: KernelTensor): { n: number; c: number; s: number } {
  if (x.shape.length < 2) throw new Error(`batchNorm: expected shape [N, C, ...], got [${x.shape.join(', ')}]`);
  if (wgslType(x.dtype, 'batchNorm') !== 'f32') throw new Error(`batchNorm: expects float32 on the webgpu backend, got ${x.dtype}`);
  const s = x.shape.slice(2).reduce((a, v) => a * v, 1);
  return { n: x.shape[0], c: x.shape[1], s };
}

/** WGSL: the workgroup-wide sums (every thread gets the totals). */
function channelCode(sg: boolean, sums: readonly ('channelSum' | 'channelSum2')[]) {
  return workgroupReductions(
    THREADS,
    sg,
    sums.map((name) => ({ name, op: 'sum' as const, type: name === 'channelSum' ? ('f32' as const) : ('vec2<f32>' as const) })),
  );
}

/** The activation fused after batch norm in training (relu or relu6: their derivative follows from the output), or null. */
function activationOf(attrs: KernelAttrs): 'relu' | 'relu6' | null {
  const act = (attrs.activation as string | null | undefined) ?? null;
  if (act !== null && act !== 'relu' && act !== 'relu6') throw new Error(`batchNorm: the fused activation must be relu or relu6, got '${act}'`);
  return act;
}

/** WGSL applying the fused activation to `v`. */
const activate = (act: 'relu' | 'relu6' | null, v: string): string => (act === 'relu' ? `max(${v}, 0.0)` : act === 'relu6' ? `clamp(${v}, 0.0, 6.0)` : v);

/**
 * WGSL looping `body` over this thread's elements of channel `ch` (e = lid, lid + THREADS, ...),
 * with `k` the element's index in the NC(s) layout. The image n and the offset i within it are
 * advanced by adding, not recomputed with two divisions per element.
 */
function channelLoop(body: string): string {
  return `{
    var n = lid / P.s;
    var i = lid % P.s;
    for (var e = lid; e < P.count; e += ${THREADS}u) {
      let k = (n * P.C + ch) * P.s + i;
      ${body}
      n += stepN;
      i += stepI;
      if (i >= P.s) { i -= P.s; n += 1u; }
    }
  }`;
}

/** The loop increments of channelLoop, once per thread. */
const LOOP_STEPS = `let stepN = ${THREADS}u / P.s;\n  let stepI = ${THREADS}u % P.s;`;

const channelMain = (params: string): string => `@compute @workgroup_size(${THREADS}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32${params})`;

/** Bindings for the optional gamma (and beta) inputs, with WGSL reading them or their defaults. */
function affineInputs(gamma: KernelTensor | undefined, beta: KernelTensor | undefined) {
  const bindings: [string, WgslScalar][] = [];
  if (gamma) bindings.push(['GAMMA', 'f32']);
  if (beta) bindings.push(['BETA', 'f32']);
  return {
    bindings,
    storages: [gamma, beta].filter((t): t is KernelTensor => !!t).map(storageOf),
    gamma: gamma ? 'GAMMA[ch]' : '1.0',
    beta: beta ? 'BETA[ch]' : '0.0',
  };
}

/** Inputs [x, gamma?, beta?] and, with attrs.hasResidual, the residual last: y = activation(bn(x) + residual). */
gpuKernel('batchNormTrain', (b: WebGPUBackend, inputs, attrs) => {
  const residual = attrs.hasResidual ? inputs[inputs.length - 1] : undefined;
  const [x, gamma, beta] = residual ? inputs.slice(0, -1) : inputs;
  const { n, c, s } = layout(x);
  const act = activationOf(attrs);
  const count = n * s;
  const y = b.output(x.shape, x.dtype);
  const mean = b.output([c], x.dtype);
  const invStd = b.output([c], x.dtype);
  const varUnbiased = b.output([c], x.dtype);
  const aff = affineInputs(gamma, beta);
  const sg = useSubgroups(b);
  const red = channelCode(sg, ['channelSum', 'channelSum2']);
  b.run(
    {
      name: `batchNormTrain_${aff.bindings.length}${residual ? '_res' : ''}${act ? `_${act}` : ''}${sg ? '_sg' : ''}`,
      key: '',
      enables: red.enables,
      inputs: [['X', 'f32'], ...aff.bindings, ...(residual ? [['RES', 'f32'] as [string, WgslScalar]] : [])],
      outputs: [['Y', 'f32'], ['MEAN', 'f32'], ['INVSTD', 'f32'], ['VARU', 'f32']],
      uniforms: [['C', 'u32', c], ['s', 'u32', s], ['count', 'u32', count], ['eps', 'f32', attrs.eps as number]],
      code: `${red.code}\n${channelMain(red.params)} {
  ${red.init}
  let ch = wg.x;
  var sum = 0.0;
  ${LOOP_STEPS}
  ${channelLoop('sum += X[k];')}
  let m = channelSum(sum, lid) / f32(P.count);
  // Corrected two-pass variance, as the cpu kernel: the squares and the compensation summed together.
  var sq = 0.0;
  var comp = 0.0;
  ${channelLoop('let d = X[k] - m; sq += d * d; comp += d;')}
  let totals = channelSum2(vec2f(sq, comp), lid);
  let sqTotal = totals.x;
  let compTotal = totals.y;
  let m2 = max(0.0, sqTotal - compTotal * compTotal / f32(P.count));
  let inv = 1.0 / sqrt(m2 / f32(P.count) + P.eps);
  if (lid == 0u) {
    MEAN[ch] = m;
    INVSTD[ch] = inv;
    var nanBits = 0x7fc00000u;
    VARU[ch] = select(bitcast<f32>(nanBits), m2 / f32(P.count - 1u), P.count > 1u);
  }
  let scale = ${aff.gamma} * inv;
  let shift = ${aff.beta};
  ${channelLoop(`Y[k] = ${activate(act, `(X[k] - m) * scale + shift${residual ? ' + RES[k]' : ''}`)};`)}
}`,
      workgroups: [c],
    },
    [storageOf(x), ...aff.storages, ...(residual ? [storageOf(residual)] : [])],
    [y.storage, mean.storage, invStd.storage, varUnbiased.storage],
  );
  return [y, mean, invStd, varUnbiased];
});

gpuKernel('batchNormInference', (b, [x, mean, variance, gamma, beta], attrs) => {
  const { n, c, s } = layout(x);
  const total = n * c * s;
  const y = b.output(x.shape, x.dtype);
  const aff = affineInputs(gamma, beta);
  b.run(
    {
      name: `batchNormInference_${aff.bindings.length}`,
      key: '',
      inputs: [['X', 'f32'], ['MEAN', 'f32'], ['VAR', 'f32'], ...aff.bindings],
      outputs: [['Y', 'f32']],
      uniforms: [['total', 'u32', total], ['C', 'u32', c], ['s', 'u32', s], ['eps', 'f32', attrs.eps as number]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let ch = (i / P.s) % P.C;
  let scale = ${aff.gamma} * (1.0 / sqrt(VAR[ch] + P.eps));
  Y[i] = (X[i] - MEAN[ch]) * scale + ${aff.beta};
}`,
      workgroups: grid1d(total),
    },
    [storageOf(x), storageOf(mean), storageOf(variance), ...aff.storages],
    [y.storage],
  );
  return [y];
});

/**
 * Inputs [dy, x, mean, invStd, gamma?] and, with attrs.activation, the activated output last: dy
 * is taken through the activation's derivative first. With attrs.hasResidual a fourth output is
 * the residual's gradient (dy through the activation).
 */
gpuKernel('batchNormBackward', (b, inputs, attrs) => {
  const act = activationOf(attrs);
  const [dy, x, mean, invStd] = inputs;
  const gamma = inputs.length === (act ? 6 : 5) ? inputs[4] : undefined;
  const activated = act ? inputs[inputs.length - 1] : undefined;
  const { n, c, s } = layout(x);
  const count = n * s;
  const dx = b.output(x.shape, x.dtype);
  const dgamma = b.output([c], x.dtype);
  const dbeta = b.output([c], x.dtype);
  const dres = attrs.hasResidual ? b.output(x.shape, x.dtype) : null;
  const aff = affineInputs(gamma, undefined);
  const sg = useSubgroups(b);
  const red = channelCode(sg, ['channelSum2']);
  b.run(
    {
      name: `batchNormBackward_${aff.bindings.length}${dres ? '_res' : ''}${act ? `_${act}` : ''}${sg ? '_sg' : ''}`,
      key: '',
      enables: red.enables,
      inputs: [['DY', 'f32'], ['X', 'f32'], ['MEAN', 'f32'], ['INVSTD', 'f32'], ...aff.bindings, ...(act ? [['YACT', 'f32'] as [string, WgslScalar]] : [])],
      outputs: [['DX', 'f32'], ['DGAMMA', 'f32'], ['DBETA', 'f32'], ...(dres ? [['DRES', 'f32'] as [string, WgslScalar]] : [])],
      uniforms: [['C', 'u32', c], ['s', 'u32', s], ['count', 'u32', count]],
      code: `${red.code}
fn grad(k: u32) -> f32 { return ${act ? `select(0.0, DY[k], ${act === 'relu' ? 'YACT[k] > 0.0' : 'YACT[k] > 0.0 && YACT[k] < 6.0'})` : 'DY[k]'}; }
${channelMain(red.params)} {
  ${red.init}
  let ch = wg.x;
  let m = MEAN[ch];
  let inv = INVSTD[ch];
  var sumDy = 0.0;
  var sumDyXc = 0.0;
  ${LOOP_STEPS}
  ${channelLoop('let g = grad(k); sumDy += g; sumDyXc += g * (X[k] - m);')}
  let totals = channelSum2(vec2f(sumDy, sumDyXc), lid);
  let totalDy = totals.x;
  let totalDyXc = totals.y;
  if (lid == 0u) { DBETA[ch] = totalDy; DGAMMA[ch] = totalDyXc * inv; }
  let k0 = ${aff.gamma} * inv;
  let meanDy = totalDy / f32(P.count);
  let c2 = inv * inv * totalDyXc / f32(P.count);
  ${channelLoop(`let g = grad(k); DX[k] = k0 * (g - meanDy - (X[k] - m) * c2);${dres ? ' DRES[k] = g;' : ''}`)}
}`,
      workgroups: [c],
    },
    [storageOf(dy), storageOf(x), storageOf(mean), storageOf(invStd), ...aff.storages, ...(activated ? [storageOf(activated)] : [])],
    [dx.storage, dgamma.storage, dbeta.storage, ...(dres ? [dres.storage] : [])],
  );
  return dres ? [dx, dgamma, dbeta, dres] : [dx, dgamma, dbeta];
});

/** Updates the running statistics (and the batch count) in place: they keep their buffers for the whole run. */
gpuKernel('batchNormRunningUpdate', (b, [runningMean, runningVar, mean, varUnbiased, count], attrs) => {
  const c = runningMean.shape[0];
  const m = attrs.momentum as number;
  b.run(
    {
      name: `batchNormRunningUpdate${count ? '_count' : ''}`,
      key: '',
      inputs: [['MEAN', 'f32'], ['VAR', 'f32']],
      outputs: [['RM', 'f32'], ['RV', 'f32'], ...(count ? [['COUNT', 'i32'] as const] : [])],
      uniforms: [['C', 'u32', c], ['keep', 'f32', 1 - m], ['m', 'f32', m]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.C) { return; }
  RM[i] = RM[i] * P.keep + MEAN[i] * P.m;
  RV[i] = RV[i] * P.keep + VAR[i] * P.m;${count ? '\n  if (i == 0u) { COUNT[0] = COUNT[0] + 1; }' : ''}
}`,
      workgroups: grid1d(c),
    },
    [storageOf(mean), storageOf(varUnbiased)],
    [storageOf(runningMean), storageOf(runningVar), ...(count ? [storageOf(count)] : [])],
  );
  const same = (t: KernelTensor) => ({ storage: t.storage, shape: [...t.shape], dtype: t.dtype });
  return [same(runningMean), same(runningVar), ...(count ? [same(count)] : [])];
});
