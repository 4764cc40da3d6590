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

/** Independent streams of a thread's elements per loop iteration: their loads are in flight together. */
const STREAMS = 4;

/**
 * WGSL looping `body` over this thread's elements e = e0 + lid, e0 + lid + THREADS, ... (< e1) of
 * channel `ch` (WGSL in scope: ch, lid, and e0 / e1 as given), with `k` the element's index in
 * the NC(s) layout. Each iteration takes STREAMS elements THREADS apart, whose loads a GPU keeps
 * in flight together (a lone load per iteration would leave a warp waiting for each one). Each
 * stream's image n and offset i are advanced by adding, not recomputed with divisions.
 */
function channelLoop(body: string, e0 = '0u', e1 = 'P.count'): string {
  const lines = [`{
    let eEnd = ${e1};
    var e = ${e0} + lid;`];
  for (let q = 0; q < STREAMS; q++) lines.push(`    var n${q} = (e + ${q * THREADS}u) / P.s;`, `    var i${q} = (e + ${q * THREADS}u) % P.s;`);
  lines.push(`    for (; e < eEnd; e += ${STREAMS * THREADS}u) {`);
  for (let q = 0; q < STREAMS; q++) {
    const guard = q === 0 ? '' : `if (e + ${q * THREADS}u < eEnd) `;
    lines.push(`      ${guard}{ let k = (n${q} * P.C + ch) * P.s + i${q}; ${body} }`);
  }
  for (let q = 0; q < STREAMS; q++) lines.push(`      n${q} += stepN; i${q} += stepI; if (i${q} >= P.s) { i${q} -= P.s; n${q} += 1u; }`);
  lines.push('    }', '  }');
  return lines.join('\n');
}

/** The loop increments of channelLoop, once per thread. */
const LOOP_STEPS = `let stepN = ${STREAMS * THREADS}u / P.s;\n  let stepI = ${STREAMS * THREADS}u % P.s;`;

/** Workgroups the chunked kernels aim for: a few per SM of a large GPU. */
const TARGET_WORKGROUPS = 512;
/** Elements a chunk holds at least: below that a workgroup per chunk costs more than it brings. */
const MIN_CHUNK = 4096;
const MAX_CHUNKS = 64;

let forcedChunks: number | null = null;

/** Tests: force the number of workgroups per channel of batch-norm training (null: automatic). */
export function forceBatchNormChunks(chunks: number | null): void {
  forcedChunks = chunks;
}

/**
 * Workgroups per channel for the training kernels. With few channels (64 at 112 x 112 in a
 * ResNet stem) one workgroup per channel would leave most of a large GPU idle, so each channel's
 * `count` elements are cut into contiguous chunks, a workgroup each; the statistics of the chunks
 * are merged by a second kernel. 1: the one-kernel path.
 */
function chunksFor(c: number, count: number): { chunks: number; chunkLen: number } {
  const wanted = forcedChunks ?? Math.min(MAX_CHUNKS, Math.ceil(TARGET_WORKGROUPS / c), Math.floor(count / MIN_CHUNK));
  const chunkLen = Math.ceil(count / Math.max(1, Math.min(wanted, count)));
  return { chunks: Math.ceil(count / chunkLen), chunkLen };
}

/** WGSL: the chunk of channel `ch` (wg.y) this workgroup (wg.x) covers, [e0, e1). */
const CHUNK_RANGE = `let q = wg.x;
  let ch = wg.y;
  let e0 = q * P.chunkLen;
  let e1 = min(P.count, e0 + P.chunkLen);`;

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

/**
 * WGSL ending the training forward once the channel's mean m and centred sum of squares m2 are
 * known: the statistics (written where `writer` holds), then y over the elements e0..e1.
 */
function normalizeTail(writer: string, aff: ReturnType<typeof affineInputs>, act: 'relu' | 'relu6' | null, residual: boolean, e0?: string, e1?: string): string {
  return `let inv = 1.0 / sqrt(m2 / f32(P.count) + P.eps);
  if (${writer}) {
    MEAN[ch] = m;
    INVSTD[ch] = inv;
    var nanBits = 0x7fc00000u;
    VARU[ch] = select(bitcast<f32>(nanBits), m2 / f32(P.count - 1u), P.count > 1u);
  }
  let scale = ${aff.gamma} * inv;
  let shift = ${aff.beta};
  ${channelLoop(`Y[k] = ${activate(act, `(X[k] - m) * scale + shift${residual ? ' + RES[k]' : ''}`)};`, e0, e1)}`;
}

/**
 * WGSL ending the backward once the channel's sums totalDy and totalDyXc are known: dbeta and
 * dgamma (written where `writer` holds), then dx (and the residual's gradient) over e0..e1.
 */
function backwardTail(writer: string, aff: ReturnType<typeof affineInputs>, dres: boolean, e0?: string, e1?: string): string {
  return `if (${writer}) { DBETA[ch] = totalDy; DGAMMA[ch] = totalDyXc * inv; }
  let k0 = ${aff.gamma} * inv;
  let meanDy = totalDy / f32(P.count);
  let c2 = inv * inv * totalDyXc / f32(P.count);
  ${channelLoop(`let g = grad(k); DX[k] = k0 * (g - meanDy - (X[k] - m) * c2);${dres ? ' DRES[k] = g;' : ''}`, e0, e1)}`;
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
  const { chunks, chunkLen } = chunksFor(c, count);
  if (chunks > 1) {
    // Each chunk's count, mean and centred sum of squares (two passes over the chunk) ...
    const part = b.createStorage(chunks * c * 3 * 4);
    const stats = channelCode(sg, ['channelSum', 'channelSum2']);
    b.run(
      {
        name: `batchNormStats${sg ? '_sg' : ''}`,
        key: '',
        enables: stats.enables,
        inputs: [['X', 'f32']],
        outputs: [['PART', 'f32']],
        uniforms: [['C', 'u32', c], ['s', 'u32', s], ['count', 'u32', count], ['chunkLen', 'u32', chunkLen], ['chunks', 'u32', chunks]],
        code: `${stats.code}\n${channelMain(stats.params)} {
  ${stats.init}
  ${CHUNK_RANGE}
  let len = f32(e1 - e0);
  var sum = 0.0;
  ${LOOP_STEPS}
  ${channelLoop('sum += X[k];', 'e0', 'e1')}
  let m = channelSum(sum, lid) / len;
  var sq = 0.0;
  var comp = 0.0;
  ${channelLoop('let d = X[k] - m; sq += d * d; comp += d;', 'e0', 'e1')}
  let totals = channelSum2(vec2f(sq, comp), lid);
  if (lid == 0u) {
    let at = 3u * (ch * P.chunks + q);
    PART[at] = len;
    PART[at + 1u] = m;
    PART[at + 2u] = max(0.0, totals.x - totals.y * totals.y / len);
  }
}`,
        workgroups: [chunks, c],
      },
      [storageOf(x)],
      [part],
    );
    // ... merged per channel (Chan et al.'s pairwise update, in chunk order) by every workgroup
    // of the channel, which then normalises its chunk.
    b.run(
      {
        name: `batchNormTrainChunks_${aff.bindings.length}${residual ? '_res' : ''}${act ? `_${act}` : ''}`,
        key: '',
        inputs: [['X', 'f32'], ['PART', 'f32'], ...aff.bindings, ...(residual ? [['RES', 'f32'] as [string, WgslScalar]] : [])],
        outputs: [['Y', 'f32'], ['MEAN', 'f32'], ['INVSTD', 'f32'], ['VARU', 'f32']],
        uniforms: [['C', 'u32', c], ['s', 'u32', s], ['count', 'u32', count], ['chunkLen', 'u32', chunkLen], ['chunks', 'u32', chunks], ['eps', 'f32', attrs.eps as number]],
        code: `${channelMain('')} {
  ${CHUNK_RANGE}
  var nA = 0.0;
  var m = 0.0;
  var m2 = 0.0;
  for (var j = 0u; j < P.chunks; j++) {
    let at = 3u * (ch * P.chunks + j);
    let nB = PART[at];
    let total = nA + nB;
    let delta = PART[at + 1u] - m;
    m += delta * (nB / total);
    m2 += PART[at + 2u] + delta * delta * (nA * nB / total);
    nA = total;
  }
  ${LOOP_STEPS}
  ${normalizeTail('q == 0u && lid == 0u', aff, act, !!residual, 'e0', 'e1')}
}`,
        workgroups: [chunks, c],
      },
      [storageOf(x), part, ...aff.storages, ...(residual ? [storageOf(residual)] : [])],
      [y.storage, mean.storage, invStd.storage, varUnbiased.storage],
    );
    b.free(part);
    return [y, mean, invStd, varUnbiased];
  }
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
  ${normalizeTail('lid == 0u', aff, act, !!residual)}
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
  const gradCode = `fn grad(k: u32) -> f32 { return ${act ? `select(0.0, DY[k], ${act === 'relu' ? 'YACT[k] > 0.0' : 'YACT[k] > 0.0 && YACT[k] < 6.0'})` : 'DY[k]'}; }`;
  const activatedInput = act ? [['YACT', 'f32'] as [string, WgslScalar]] : [];
  const { chunks, chunkLen } = chunksFor(c, count);
  if (chunks > 1) {
    // Each chunk's sums of the gradient and of gradient x centred input ...
    const part = b.createStorage(chunks * c * 2 * 4);
    const sums = channelCode(sg, ['channelSum2']);
    b.run(
      {
        name: `batchNormBackwardSums${act ? `_${act}` : ''}${sg ? '_sg' : ''}`,
        key: '',
        enables: sums.enables,
        inputs: [['DY', 'f32'], ['X', 'f32'], ['MEAN', 'f32'], ...activatedInput],
        outputs: [['PART', 'f32']],
        uniforms: [['C', 'u32', c], ['s', 'u32', s], ['count', 'u32', count], ['chunkLen', 'u32', chunkLen], ['chunks', 'u32', chunks]],
        code: `${sums.code}
${gradCode}
${channelMain(sums.params)} {
  ${sums.init}
  ${CHUNK_RANGE}
  let m = MEAN[ch];
  var sumDy = 0.0;
  var sumDyXc = 0.0;
  ${LOOP_STEPS}
  ${channelLoop('let g = grad(k); sumDy += g; sumDyXc += g * (X[k] - m);', 'e0', 'e1')}
  let totals = channelSum2(vec2f(sumDy, sumDyXc), lid);
  if (lid == 0u) {
    PART[2u * (ch * P.chunks + q)] = totals.x;
    PART[2u * (ch * P.chunks + q) + 1u] = totals.y;
  }
}`,
        workgroups: [chunks, c],
      },
      [storageOf(dy), storageOf(x), storageOf(mean), ...(activated ? [storageOf(activated)] : [])],
      [part],
    );
    // ... added up per channel, in chunk order, by every workgroup of the channel, which then
    // computes dx over its chunk.
    b.run(
      {
        name: `batchNormBackwardChunks_${aff.bindings.length}${dres ? '_res' : ''}${act ? `_${act}` : ''}`,
        key: '',
        inputs: [['DY', 'f32'], ['X', 'f32'], ['MEAN', 'f32'], ['INVSTD', 'f32'], ['PART', 'f32'], ...aff.bindings, ...activatedInput],
        outputs: [['DX', 'f32'], ['DGAMMA', 'f32'], ['DBETA', 'f32'], ...(dres ? [['DRES', 'f32'] as [string, WgslScalar]] : [])],
        uniforms: [['C', 'u32', c], ['s', 'u32', s], ['count', 'u32', count], ['chunkLen', 'u32', chunkLen], ['chunks', 'u32', chunks]],
        code: `${gradCode}
${channelMain('')} {
  ${CHUNK_RANGE}
  let m = MEAN[ch];
  let inv = INVSTD[ch];
  var totalDy = 0.0;
  var totalDyXc = 0.0;
  for (var j = 0u; j < P.chunks; j++) {
    totalDy += PART[2u * (ch * P.chunks + j)];
    totalDyXc += PART[2u * (ch * P.chunks + j) + 1u];
  }
  ${LOOP_STEPS}
  ${backwardTail('q == 0u && lid == 0u', aff, !!dres, 'e0', 'e1')}
}`,
        workgroups: [chunks, c],
      },
      [storageOf(dy), storageOf(x), storageOf(mean), storageOf(invStd), part, ...aff.storages, ...(activated ? [storageOf(activated)] : [])],
      [dx.storage, dgamma.storage, dbeta.storage, ...(dres ? [dres.storage] : [])],
    );
    b.free(part);
    return dres ? [dx, dgamma, dbeta, dres] : [dx, dgamma, dbeta];
  }
  const red = channelCode(sg, ['channelSum2']);
  b.run(
    {
      name: `batchNormBackward_${aff.bindings.length}${dres ? '_res' : ''}${act ? `_${act}` : ''}${sg ? '_sg' : ''}`,
      key: '',
      enables: red.enables,
      inputs: [['DY', 'f32'], ['X', 'f32'], ['MEAN', 'f32'], ['INVSTD', 'f32'], ...aff.bindings, ...activatedInput],
      outputs: [['DX', 'f32'], ['DGAMMA', 'f32'], ['DBETA', 'f32'], ...(dres ? [['DRES', 'f32'] as [string, WgslScalar]] : [])],
      uniforms: [['C', 'u32', c], ['s', 'u32', s], ['count', 'u32', count]],
      code: `${red.code}
${gradCode}
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
  ${backwardTail('lid == 0u', aff, !!dres)}
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
