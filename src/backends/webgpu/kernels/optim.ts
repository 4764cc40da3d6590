/**
 * Optimiser updates (as src/backends/cpu/kernels/optim.ts): one element-wise dispatch per
 * parameter, four elements per thread when the size is a multiple of 4. The parameter and the
 * existing state are updated in place (bound read-write; the kernel returns their own storage,
 * which the optimiser's assign keeps), so a parameter stays in one buffer for the whole run and
 * the kernels that read it bind the same buffers every step (cached bind groups). The options
 * that change the formula select the WGSL (one pipeline per combination); the numbers are
 * uniforms.
 */
import type { KernelOutput, KernelTensor } from '../../backend.js';
import { FLAT_INDEX, MAIN_1D, grid1d, wgslType, type WgslElement, type WgslScalar } from '../program.js';
import type { WebGPUBackend } from '../backend.js';
import { gpuKernel, sizeOf, storageOf } from './util.js';

/**
 * Runs `body` for every element (or vec4 of elements) after `let <name> = <BINDING>[i];` for each
 * read-only input and each in-place state [binding, name, tensor]; the body assigns the state
 * bindings and the `fresh` ones (new state) at [i]. Returns the state tensors' storage (updated in
 * place) and then the fresh outputs, in the order given by `order`.
 */
function runUpdate(
  b: WebGPUBackend,
  name: string,
  param: KernelTensor,
  inputs: readonly (readonly [binding: string, name: string, tensor: KernelTensor])[],
  inPlace: readonly (readonly [binding: string, name: string, tensor: KernelTensor])[],
  fresh: readonly string[],
  uniforms: readonly (readonly [string, WgslScalar, number])[],
  body: string,
): KernelOutput[] {
  for (const [, , t] of [...inputs, ...inPlace]) if (wgslType(t.dtype, name) !== 'f32') throw new Error(`${name}: expects float32 on the webgpu backend, got ${t.dtype}`);
  const n = sizeOf(param.shape);
  const vec4 = n % 4 === 0 && n > 0;
  const element: WgslElement = vec4 ? 'vec4<f32>' : 'f32';
  const count = vec4 ? n / 4 : n;
  const outs = fresh.map(() => b.output(param.shape, param.dtype));
  b.run(
    {
      name: `${name}${vec4 ? '_vec4' : ''}`,
      // The name tells every variant of the update apart (its options select the WGSL).
      key: '',
      inputs: inputs.map(([binding]) => [binding, element]),
      outputs: [...inPlace.map(([binding]): [string, WgslElement] => [binding, element]), ...fresh.map((binding): [string, WgslElement] => [binding, element])],
      uniforms: [['n', 'u32', count], ...uniforms],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  ${[...inputs, ...inPlace].map(([binding, local]) => `let ${local} = ${binding}[i];`).join(' ')}
  ${body}
}`,
      workgroups: grid1d(count),
    },
    inputs.map(([, , t]) => storageOf(t)),
    [...inPlace.map(([, , t]) => storageOf(t)), ...outs.map((o) => o.storage)],
  );
  return [...inPlace.map(([, , t]) => ({ storage: t.storage, shape: [...t.shape], dtype: t.dtype })), ...outs];
}

gpuKernel('sgdUpdate', (b, inputs, attrs) => {
  const [p, g] = inputs;
  const momentum = attrs.momentum as number;
  const wd = attrs.weightDecay as number;
  const buf = attrs.hasBuffer ? inputs[2] : null;
  const lines = [wd ? 'var d = g + p * P.wd;' : 'var d = g;'];
  if (momentum) {
    lines.push(buf ? 'let m = buf * P.momentum + d * P.keep;' : 'let m = d;', buf ? 'BUF[i] = m;' : 'BUF_OUT[i] = m;');
    lines.push(attrs.nesterov ? 'd = d + m * P.momentum;' : 'd = m;');
  }
  lines.push('PARAM[i] = p - P.lr * d;');
  const variant = `${wd ? '_wd' : ''}${momentum ? (buf ? '_momentum' : '_first') : ''}${momentum && attrs.nesterov ? '_nesterov' : ''}`;
  return runUpdate(
    b,
    `sgdUpdate${variant}`,
    p,
    [['GRAD', 'g', g]],
    [['PARAM', 'p', p], ...(buf ? [['BUF', 'buf', buf] as const] : [])],
    momentum && !buf ? ['BUF_OUT'] : [],
    [['lr', 'f32', attrs.lr as number], ['momentum', 'f32', momentum], ['keep', 'f32', 1 - (attrs.dampening as number)], ['wd', 'f32', wd]],
    lines.join('\n  '),
  );
});

gpuKernel('adamwUpdate', (b, inputs, attrs) => {
  const [p, g] = inputs;
  const { lr, beta1, beta2, eps, weightDecay, biasCorrection1, biasCorrection2 } = attrs as Record<string, number>;
  const hasState = !!attrs.hasState;
  const moments = hasState
    ? `let m = m0 * P.beta1 + g * P.keep1;
  let v = v0 * P.beta2 + g * g * P.keep2;
  EXP_AVG[i] = m;
  EXP_AVG_SQ[i] = v;`
    : `let m = g * P.keep1;
  let v = g * g * P.keep2;
  EXP_AVG_OUT[i] = m;
  EXP_AVG_SQ_OUT[i] = v;`;
  // 1 - beta and the bias corrections are computed here in float64: 1 - f32(0.999) is 1.3e-5 off.
  return runUpdate(
    b,
    `adamwUpdate${hasState ? '' : '_first'}`,
    p,
    [['GRAD', 'g', g]],
    [['PARAM', 'p', p], ...(hasState ? ([['EXP_AVG', 'm0', inputs[2]], ['EXP_AVG_SQ', 'v0', inputs[3]]] as const) : [])],
    hasState ? [] : ['EXP_AVG_OUT', 'EXP_AVG_SQ_OUT'],
    [
      ['beta1', 'f32', beta1],
      ['beta2', 'f32', beta2],
      ['keep1', 'f32', 1 - beta1],
      ['keep2', 'f32', 1 - beta2],
      ['eps', 'f32', eps],
      ['decay', 'f32', 1 - lr * weightDecay],
      ['stepSize', 'f32', lr / biasCorrection1],
      ['bc2Sqrt', 'f32', Math.sqrt(biasCorrection2)],
    ],
    `${moments}
  PARAM[i] = p * P.decay - (m / (sqrt(v) / P.bc2Sqrt + P.eps)) * P.stepSize;`,
  );
});
