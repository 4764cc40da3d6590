/** Element-wise kernels: unary, unaryGrad, affine, binary (broadcasting), cast, fill. */
import { broadcastStrides } from '../../strides.js';
import type { DType } from '../../../tensor/dtype.js';
import { operand } from './half.js';
import { FLAT_INDEX, MAIN_1D, grid1d, wgslType, type Program, type WgslElement, type WgslScalar } from '../program.js';
import { MATH_WGSL, unaryExpr, unaryGradExpr } from './math.js';
import { gpuKernel, sizeOf, storageOf } from './util.js';

/**
 * An element-wise program: out[i] = expr over same-shaped inputs, each element bound to a WGSL
 * name (`x`, `dy`) as f32. float32 tensors whose size is a multiple of 4 are read and written
 * as vec4<f32> (four elements per thread, wider memory accesses).
 */
function mapProgram(
  name: string,
  dtype: DType,
  n: number,
  inputs: readonly (readonly [binding: string, element: string])[],
  expr: string,
  uniforms: readonly (readonly [string, WgslScalar, number])[] = [],
  shared: readonly string[] = [],
): Program {
  const t = wgslType(dtype, name);
  const vec4 = t === 'f32' && n % 4 === 0 && n > 0;
  const bindings = inputs.map(([binding]): [string, WgslElement] => [binding, vec4 ? 'vec4<f32>' : t]);
  const count = vec4 ? n / 4 : n;
  const body = vec4
    ? `${inputs.map(([binding]) => `let ${binding}4 = ${binding}[i];`).join(' ')}
  var r: vec4<f32>;
  for (var k = 0u; k < 4u; k++) {
    ${inputs.map(([binding, element]) => `let ${element} = ${binding}4[k];`).join(' ')}
    r[k] = ${expr};
  }
  Y[i] = r;`
    : `${inputs.map(([binding, element]) => `let ${element} = f32(${binding}[i]);`).join(' ')}
  Y[i] = ${t}(${expr});`;
  return {
    name: `${name}${vec4 ? '_vec4' : ''}`,
    inputs: bindings,
    outputs: [['Y', vec4 ? 'vec4<f32>' : t]],
    uniforms: [['n', 'u32', count], ...uniforms],
    code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  ${body}
}`,
    shared,
    workgroups: grid1d(count),
  };
}

gpuKernel('unary', (b, [x], attrs) => {
  const out = b.output(x.shape, x.dtype);
  const program = mapProgram(`unary_${attrs.op}`, x.dtype, sizeOf(x.shape), [['X', 'x']], unaryExpr(attrs.op as string), [], [MATH_WGSL]);
  b.run(program, [storageOf(x)], [out.storage]);
  return [out];
});

gpuKernel('unaryGrad', (b, [x, dy], attrs) => {
  const out = b.output(x.shape, x.dtype);
  const expr = `dy * (${unaryGradExpr(attrs.op as string)})`;
  const program = mapProgram(`unaryGrad_${attrs.op}`, x.dtype, sizeOf(x.shape), [['X', 'x'], ['DY', 'dy']], expr, [], [MATH_WGSL]);
  b.run(program, [storageOf(x), storageOf(dy)], [out.storage]);
  return [out];
});

gpuKernel('affine', (b, [x], attrs) => {
  const out = b.output(x.shape, x.dtype);
  const uniforms: [string, WgslScalar, number][] = [['scale', 'f32', attrs.scale as number], ['shift', 'f32', attrs.shift as number]];
  b.run(mapProgram('affine', x.dtype, sizeOf(x.shape), [['X', 'x']], 'x * P.scale + P.shift', uniforms), [storageOf(x)], [out.storage]);
  return [out];
});

/** WGSL for the 'binary' kernel's ops on values a, b of the compute type (f32 or i32). */
function binaryExpr(op: string, t: WgslScalar): string {
  const one = t === 'f32' ? '1.0' : '1';
  const zero = t === 'f32' ? '0.0' : '0';
  switch (op) {
    case 'add': return 'a + b';
    case 'sub': return 'a - b';
    case 'mul': return 'a * b';
    case 'div': return t === 'f32' ? 'a / b' : 'select(0, a / b, b != 0)';
    case 'maximum': return 'max(a, b)';
    case 'minimum': return 'min(a, b)';
    case 'pow': return t === 'f32' ? 'pow_(a, b)' : 'i32(pow_(f32(a), f32(b)))';
    case 'greater': return `select(${zero}, ${one}, a > b)`;
    case 'less': return `select(${zero}, ${one}, a < b)`;
    case 'equal': return `select(${zero}, ${one}, a == b)`;
    default: throw new Error(`binary: unknown op '${op}' on the webgpu backend`);
  }
}

/**
 * WGSL that maps the flat output index `i` to input offsets ia, ib by walking the output's
 * axes from the last (unrolled for this rank; the shape and strides come as uniforms).
 */
function broadcastIndexing(rank: number): string {
  const lines = ['var rem = i;', 'var ia = 0u;', 'var ib = 0u;'];
  for (let d = rank - 1; d >= 0; d--) {
    lines.push(`{ let c = rem % P.s${d}; rem = rem / P.s${d}; ia += c * P.a${d}; ib += c * P.b${d}; }`);
  }
  return lines.join('\n  ');
}

gpuKernel('binary', (b, [a, c], attrs) => {
  const outShape = attrs.outShape as number[];
  const outDtype = (attrs.outDtype as DType | undefined) ?? a.dtype;
  const t = wgslType(a.dtype, 'binary');
  const to = wgslType(outDtype, 'binary');
  const n = sizeOf(outShape);
  const out = b.output(outShape, outDtype);
  const sa = sizeOf(a.shape);
  const sc = sizeOf(c.shape);
  if (sa === n && sc === n && t === 'f32' && to === 'f32') {
    b.run(mapProgram(`binary_${attrs.op}`, 'float32', n, [['A', 'a'], ['B', 'b']], binaryExpr(attrs.op as string, 'f32'), [], [MATH_WGSL]), [storageOf(a), storageOf(c)], [out.storage]);
    return [out];
  }
  const uniforms: [string, WgslScalar, number][] = [['n', 'u32', n]];
  let indexing: string;
  let kind: string;
  if (sa === n && sc === n) {
    kind = 'same';
    indexing = 'let ia = i; let ib = i;';
  } else if (sa === n && sc === 1) {
    kind = 'scalarB';
    indexing = 'let ia = i; let ib = 0u;';
  } else if (sa === 1 && sc === n) {
    kind = 'scalarA';
    indexing = 'let ia = 0u; let ib = i;';
  } else {
    const rank = outShape.length;
    kind = `rank${rank}`;
    const aStrides = broadcastStrides(a.shape, outShape);
    const bStrides = broadcastStrides(c.shape, outShape);
    for (let d = 0; d < rank; d++) uniforms.push([`s${d}`, 'u32', outShape[d]], [`a${d}`, 'u32', aStrides[d]], [`b${d}`, 'u32', bStrides[d]]);
    indexing = broadcastIndexing(rank);
  }
  b.run(
    {
      name: `binary_${attrs.op}_${kind}`,
      inputs: [['A', t], ['B', t]],
      outputs: [['Y', to]],
      uniforms,
      shared: [MATH_WGSL],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  ${indexing}
  let a = A[ia];
  let b = B[ib];
  Y[i] = ${to}(${binaryExpr(attrs.op as string, t)});
}`,
      workgroups: grid1d(n),
    },
    [storageOf(a), storageOf(c)],
    [out.storage],
  );
  return [out];
});

gpuKernel('cast', (b, [x], attrs) => {
  const dtype = attrs.dtype as DType;
  const n = sizeOf(x.shape);
  const out = b.output(x.shape, dtype);
  let program: Program;
  if (dtype === 'float16') {
    // Two halves per u32 word (see half.ts); each thread converts one pair.
    if (x.dtype !== 'float32' && x.dtype !== 'float16') throw new Error(`cast: the webgpu backend casts to float16 from float32 only, got ${x.dtype}; cast to float32 first`);
    const input = operand('X', x.dtype, 'cast');
    program = {
      name: `cast_${x.dtype}_float16`,
      inputs: [input.binding],
      outputs: [['Y', 'u32']],
      uniforms: [['n', 'u32', n]],
      code: `${input.code}\n${FLAT_INDEX}\n${MAIN_1D} {
  let w = flatIndex(gid, nwg);
  if (w * 2u >= P.n) { return; }
  let hi = select(0.0, ldX(w * 2u + 1u), w * 2u + 1u < P.n);
  Y[w] = pack2x16float(vec2<f32>(ldX(w * 2u), hi));
}`,
      workgroups: grid1d(Math.ceil(n / 2)),
    };
  } else if (x.dtype === 'float16') {
    const to = wgslType(dtype, 'cast');
    program = {
      name: `cast_float16_${dtype}`,
      inputs: [['X', 'u32']],
      outputs: [['Y', to]],
      uniforms: [['n', 'u32', n]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  Y[i] = ${to}(unpack2x16float(X[i >> 1u])[i & 1u]);
}`,
      workgroups: grid1d(n),
    };
  } else if (dtype === 'uint8') {
    // Four bytes per thread, packed into one u32 word: WGSL has no 8-bit storage.
    const t = wgslType(x.dtype, 'cast');
    program = {
      name: 'cast_to_u8',
      inputs: [['X', t]],
      outputs: [['Y', 'u32']],
      uniforms: [['n', 'u32', n]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let w = flatIndex(gid, nwg);
  if (w * 4u >= P.n) { return; }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let i = w * 4u + k;
    if (i < P.n) { word |= (u32(i32(X[i])) & 255u) << (8u * k); }
  }
  Y[w] = word;
}`,
      workgroups: grid1d(Math.ceil(n / 4)),
    };
  } else {
    const to = wgslType(dtype, 'cast');
    const from = x.dtype === 'uint8' ? 'u32' : wgslType(x.dtype, 'cast');
    const read = x.dtype === 'uint8' ? '(X[i / 4u] >> (8u * (i % 4u))) & 255u' : 'X[i]';
    program = {
      name: `cast_${x.dtype}_${dtype}`,
      inputs: [['X', from]],
      outputs: [['Y', to]],
      uniforms: [['n', 'u32', n]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  Y[i] = ${to}(${read});
}`,
      workgroups: grid1d(n),
    };
  }
  b.run(program, [storageOf(x)], [out.storage]);
  return [out];
});

/** The 32-bit word that repeats `value` as `dtype` (four bytes for uint8). */
function fillWord(dtype: DType, value: number): number {
  const word = new Uint32Array(1);
  if (dtype === 'float32') new Float32Array(word.buffer)[0] = value;
  else if (dtype === 'int32') new Int32Array(word.buffer)[0] = value;
  else if (dtype === 'uint8') new Uint8Array(word.buffer).fill(value);
  else wgslType(dtype, 'fill');
  return word[0];
}

gpuKernel('fill', (b, _inputs, attrs) => {
  const shape = attrs.shape as number[];
  const dtype = attrs.dtype as DType;
  const out = b.output(shape, dtype);
  const words = Math.ceil(out.storage.byteLength / 4);
  b.run(
    {
      name: 'fill',
      inputs: [],
      outputs: [['Y', 'u32']],
      uniforms: [['n', 'u32', words], ['word', 'u32', fillWord(dtype, attrs.value as number)]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  Y[i] = P.word;
}`,
      workgroups: grid1d(words),
    },
    [],
    [out.storage],
  );
  return [out];
});

