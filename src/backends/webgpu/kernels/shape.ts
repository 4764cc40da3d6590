/** Data-movement kernels: transpose, slice, pad, concat. */
import type { WgslScalar } from '../program.js';
import { FLAT_INDEX, MAIN_1D, grid1d, wgslType } from '../program.js';
import { gpuKernel, sizeOf, storageOf, stridesOf } from './util.js';

type Uniform = [string, WgslScalar, number];

/**
 * WGSL that splits the flat index `i` into coordinates c<d> over the shape given by uniforms
 * s<d> (unrolled for `rank`), and the uniforms for `shape`.
 */
function coordinates(shape: readonly number[]): { code: string; uniforms: Uniform[] } {
  const lines = ['var rem = i;'];
  const uniforms: Uniform[] = [];
  for (let d = shape.length - 1; d >= 0; d--) lines.push(`let c${d} = rem % P.s${d}; rem = rem / P.s${d};`);
  shape.forEach((n, d) => uniforms.push([`s${d}`, 'u32', n]));
  return { code: lines.join('\n  '), uniforms };
}

/** out[i] = X[base + sum_d c_d * stride_d]: a strided gather covering transpose and slice. */
function gather(name: string, t: WgslScalar, outShape: readonly number[], strides: readonly number[], base: number) {
  const { code, uniforms } = coordinates(outShape);
  const n = sizeOf(outShape);
  const offset = ['P.base', ...outShape.map((_, d) => `c${d} * P.t${d}`)].join(' + ');
  return {
    name: `${name}_rank${outShape.length}`,
    inputs: [['X', t]] as [string, WgslScalar][],
    outputs: [['Y', t]] as [string, WgslScalar][],
    uniforms: [['n', 'u32', n] as Uniform, ['base', 'u32', base] as Uniform, ...uniforms, ...strides.map((s, d): Uniform => [`t${d}`, 'u32', s])],
    code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  ${code}
  Y[i] = X[${offset}];
}`,
    workgroups: grid1d(n),
  };
}

gpuKernel('transpose', (b, [x], attrs) => {
  const perm = attrs.perm as number[];
  const outShape = perm.map((p) => x.shape[p]);
  const inStrides = stridesOf(x.shape);
  const out = b.output(outShape, x.dtype);
  b.run(gather('transpose', wgslType(x.dtype, 'transpose'), outShape, perm.map((p) => inStrides[p]), 0), [storageOf(x)], [out.storage]);
  return [out];
});

gpuKernel('slice', (b, [x], attrs) => {
  const begin = attrs.begin as number[];
  const size = attrs.size as number[];
  const strides = stridesOf(x.shape);
  const base = begin.reduce((acc, v, d) => acc + v * strides[d], 0);
  const out = b.output(size, x.dtype);
  b.run(gather('slice', wgslType(x.dtype, 'slice'), size, strides, base), [storageOf(x)], [out.storage]);
  return [out];
});

gpuKernel('pad', (b, [x], attrs) => {
  const begin = attrs.begin as number[];
  const outShape = attrs.outShape as number[];
  const value = (attrs.value as number | undefined) ?? 0;
  const t = wgslType(x.dtype, 'pad');
  const n = sizeOf(outShape);
  const { code, uniforms } = coordinates(outShape);
  const xStrides = stridesOf(x.shape);
  const inside = outShape.map((_, d) => `c${d} >= P.b${d} && c${d} < P.b${d} + P.e${d}`).join(' && ') || 'true';
  const offset = ['0u', ...outShape.map((_, d) => `(c${d} - P.b${d}) * P.t${d}`)].join(' + ');
  const out = b.output(outShape, x.dtype);
  b.run(
    {
      name: `pad_rank${outShape.length}`,
      inputs: [['X', t]],
      outputs: [['Y', t]],
      uniforms: [
        ['n', 'u32', n],
        ['value', 'f32', value],
        ...uniforms,
        ...outShape.flatMap((_, d): Uniform[] => [[`b${d}`, 'u32', begin[d]], [`e${d}`, 'u32', x.shape[d]], [`t${d}`, 'u32', xStrides[d]]]),
      ],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  ${code}
  if (${inside}) { Y[i] = X[${offset}]; } else { Y[i] = ${t}(P.value); }
}`,
      workgroups: grid1d(n),
    },
    [storageOf(x)],
    [out.storage],
  );
  return [out];
});

gpuKernel('concat', (b, inputs, attrs) => {
  const axis = attrs.axis as number;
  const outShape = [...inputs[0].shape];
  outShape[axis] = inputs.reduce((s, t) => s + t.shape[axis], 0);
  const t = wgslType(inputs[0].dtype, 'concat');
  const out = b.output(outShape, inputs[0].dtype);
  const outRow = sizeOf(outShape.slice(axis));
  let column = 0;
  // One copy per part: rows of `len` elements land at `column` within each output row.
  for (const part of inputs) {
    const len = sizeOf(part.shape.slice(axis));
    const n = sizeOf(part.shape);
    b.run(
      {
        name: 'concat_part',
        inputs: [['X', t]],
        outputs: [['Y', t]],
        uniforms: [['n', 'u32', n], ['len', 'u32', len], ['outRow', 'u32', outRow], ['column', 'u32', column]],
        code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  Y[(i / P.len) * P.outRow + P.column + i % P.len] = X[i];
}`,
        workgroups: grid1d(n),
      },
      [storageOf(part)],
      [out.storage],
    );
    column += len;
  }
  return [out];
});
