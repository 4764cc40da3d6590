/**
 * Optimiser updates (as src/backends/cpu/kernels/optim.ts): one element-wise dispatch per
 * parameter writing the new parameter and state, four elements per thread when the size is a
 * multiple of 4. The options that change the formula select the WGSL (one pipeline per
 * combination); the numbers are uniforms.
 */
import type { KernelOutput, KernelTensor } from '../../backend.js';
import { FLAT_INDEX, MAIN_1D, grid1d, wgslType, type WgslElement, type WgslScalar } from '../program.js';
import type { WebGPUBackend } from '../backend.js';
import { gpuKernel, sizeOf, storageOf } from './util.js';

/**
 * Runs `body` for every element (or vec4 of elements) after `let <name> = <BINDING>[i];` for
 * each input [binding, name, tensor]; the body assigns the output bindings at [i].
 */
function runUpdate(
  b: WebGPUBackend,
  name: string,
  param: KernelTensor,
  inputs: readonly (readonly [binding: string, name: string, tensor: KernelTensor])[],
  outputs: readonly string[],
  uniforms: readonly (readonly [string, WgslScalar, number])[],
  body: string,
): KernelOutput[] {
  for (const [, , t] of inputs) if (wgslType(t.dtype, name) !== 'f32') throw new Error(`${name}: expects float32 on the webgpu backend, got ${t.dtype}`);
  const n = sizeOf(param.shape);
  const vec4 = n % 4 === 0 && n > 0;
  const element: WgslElement = vec4 ? 'vec4<f32>' : 'f32';
  const count = vec4 ? n / 4 : n;
  const outs = outputs.map(() => b.output(param.shape, param.dtype));
  b.run(
    {
      name: `${name}${vec4 ? '_vec4' : ''}`,
      inputs: inputs.map(([binding]) => [binding, element]),
      outputs: outputs.map((binding) => [binding, element]),
      uniforms: [['n', 'u32', count], ...uniforms],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  ${inputs.map(([binding, local]) => `let ${local} = ${binding}[i];`).join(' ')}
  ${body}
}`,
      workgroups: grid1d(count),
    },
    inputs.map(([, , t]) => storageOf(t)),
    outs.map((o) => o.storage),
  );
  return outs;
}

gpuKernel('sgdUpdate', (b, inputs, attrs) => {
  const [p, g] = inputs;
  const momentum = attrs.momentum as number;
  const wd = attrs.weightDecay as number;
  const buf = attrs.hasBuffer ? inputs[2] : null;
  const lines = [wd ? 'var d = g + p * P.wd;' : 'var d = g;'];
  if (momentum) {
    lines.push(buf ? 'let m = buf * P.momentum + d * P.keep;' : 'let m = d;', 'BUF_OUT[i] = m;');
    lines.push(attrs.nesterov ? 'd = d + m * P.momentum;' : 'd = m;');
  }
  lines.push('PARAM_OUT[i] = p - P.lr * d;');
  const variant = `${wd ? '_wd' : ''}${momentum ? (buf ? '_momentum' : '_first') : ''}${momentum && attrs.nesterov ? '_nesterov' : ''}`;
  return runUpdate(
    b,
    `sgdUpdate${variant}`,
    p,
    [['PARAM', 'p', p], ['GRAD', 'g', g], ...(buf ? [['BUF', 'buf', buf] as const] : [])],
    momentum ? ['PARAM_OUT', 'BUF_OUT'] : ['PARAM_OUT'],
    [['lr', 'f32', attrs.lr as number], ['momentum', 'f32', momentum], ['keep', 'f32', 1 - (attrs.dampening as number)], ['wd', 'f32', wd]],
    lines.join('\n  '),
  );
});

gpuKernel('adamwUpdate', (b, inputs, attrs) => {
  const [p, g] = inputs;
  const { lr, beta1, beta2, eps, weightDecay, biasCorrection1, biasCorrection2 } = attrs as Record<string, number>;
  const state = attrs.hasState ? ([['EXP_AVG', 'm0', inputs[2]], ['EXP_AVG_SQ', 'v0', inputs[3]]] as const) : [];
  const moments = state.length
    ? `let m = m0 * P.beta1 + g * P.keep1;
  let v = v0 * P.beta2 + g * g * P.keep2;`
    : `let m = g * P.keep1;
  let v = g * g * P.keep2;`;
  // 1 - beta and the bias corrections are computed here in float64: 1 - f32(0.999) is 1.3e-5 off.
  return runUpdate(
    b,
    `adamwUpdate${state.length ? '' : '_first'}`,
    p,
    [['PARAM', 'p', p], ['GRAD', 'g', g], ...state],
    ['PARAM_OUT', 'EXP_AVG_OUT', 'EXP_AVG_SQ_OUT'],
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
  EXP_AVG_OUT[i] = m;
  EXP_AVG_SQ_OUT[i] = v;
  PARAM_OUT[i] = p * P.decay - (m / (sqrt(v) / P.bc2Sqrt + P.eps)) * P.stepSize;`,
  );
});
