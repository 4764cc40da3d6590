/**
 * Reductions over the middle axis of an [outer, reduced, inner] block: reduce, argmax, softmax.
 * Long rows (inner == 1) get a workgroup each, combined with subgroup operations where the device
 * has them (./subgroup.ts).
 */
import { FLAT_INDEX, MAIN_1D, grid1d, wgslType } from '../program.js';
import { gpuKernel, storageOf } from './util.js';
import { useSubgroups, workgroupReductions, type ReduceOp } from './subgroup.js';

const COMBINE: Record<string, string> = { sum: 'a + b', max: 'max(a, b)', min: 'min(a, b)' };

/** Threads of a workgroup that reduces one row together (inner == 1). */
const ROW_THREADS = 256;
/** Below this row length a thread per row is faster than a workgroup per row. */
const MIN_ROW_FOR_WORKGROUP = 64;
const MAX_WORKGROUPS_PER_DIM = 65535;

/** One workgroup per output, folded into x and y; the program reads its row as `wid`. */
function rowGrid(rows: number): number[] {
  if (rows <= MAX_WORKGROUPS_PER_DIM) return [rows, 1, 1];
  const y = Math.ceil(rows / MAX_WORKGROUPS_PER_DIM);
  return [Math.ceil(rows / y), y, 1];
}

gpuKernel('reduce', (b, [x], attrs) => {
  const [outer, reduced, inner] = attrs.block as [number, number, number];
  const op = attrs.op as string;
  const combine = COMBINE[op];
  if (!combine) throw new Error(`reduce: unknown op '${op}' on the webgpu backend (sum, max, min)`);
  const t = wgslType(x.dtype, 'reduce');
  const out = b.output(attrs.outShape as number[], x.dtype);
  const init = op === 'sum' ? `${t}(0)` : 'X[base]';
  if (inner === 1 && reduced >= MIN_ROW_FOR_WORKGROUP) {
    // A workgroup per row: strided partial results, then a workgroup reduction (subgroups or a tree).
    const sg = useSubgroups(b);
    const red = workgroupReductions(ROW_THREADS, sg, [{ name: 'rowReduce', op: op as ReduceOp, type: t }]);
    b.run(
      {
        name: `reduce_rows_${op}${sg ? '_sg' : ''}`,
        enables: red.enables,
        inputs: [['X', t]],
        outputs: [['Y', t]],
        uniforms: [['rows', 'u32', outer], ['n', 'u32', reduced]],
        code: `
${red.code}
fn combine(a: ${t}, b: ${t}) -> ${t} { return ${combine}; }
@compute @workgroup_size(${ROW_THREADS}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32${red.params}) {
  ${red.init}
  let row = wg.x + wg.y * nwg.x;
  let inRange = row < P.rows;
  let base = select(0u, row * P.n, inRange);
  var acc = ${init};
  if (inRange) {
    for (var r = lid; r < P.n; r += ${ROW_THREADS}u) { acc = combine(acc, X[base + r]); }
  }
  let total = rowReduce(acc, lid);
  if (lid == 0u && inRange) { Y[row] = total; }
}`,
        workgroups: rowGrid(outer),
      },
      [storageOf(x)],
      [out.storage],
    );
    return [out];
  }
  const n = outer * inner;
  b.run(
    {
      name: `reduce_${op}`,
      inputs: [['X', t]],
      outputs: [['Y', t]],
      uniforms: [['n', 'u32', n], ['reduced', 'u32', reduced], ['inner', 'u32', inner]],
      code: `
fn combine(a: ${t}, b: ${t}) -> ${t} { return ${combine}; }
${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  let o = i / P.inner;
  let base = o * P.reduced * P.inner + i % P.inner;
  if (P.reduced == 0u) { Y[i] = ${t}(0); return; }
  var acc = ${init};
  for (var r = 0u; r < P.reduced; r++) { acc = combine(acc, X[base + r * P.inner]); }
  Y[i] = acc;
}`,
      workgroups: grid1d(n),
    },
    [storageOf(x)],
    [out.storage],
  );
  return [out];
});

gpuKernel('argmax', (b, [x], attrs) => {
  const [outer, reduced, inner] = attrs.block as [number, number, number];
  const t = wgslType(x.dtype, 'argmax');
  const out = b.output(attrs.outShape as number[], 'int32');
  const n = outer * inner;
  b.run(
    {
      name: 'argmax',
      inputs: [['X', t]],
      outputs: [['Y', 'i32']],
      uniforms: [['n', 'u32', n], ['reduced', 'u32', reduced], ['inner', 'u32', inner]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  let base = (i / P.inner) * P.reduced * P.inner + i % P.inner;
  var best = X[base];
  var bestIndex = 0u;
  for (var r = 1u; r < P.reduced; r++) {
    let v = X[base + r * P.inner];
    if (v > best) { best = v; bestIndex = r; }
  }
  Y[i] = i32(bestIndex);
}`,
      workgroups: grid1d(n),
    },
    [storageOf(x)],
    [out.storage],
  );
  return [out];
});

gpuKernel('softmax', (b, [x], attrs) => {
  const [outer, reduced, inner] = attrs.block as [number, number, number];
  const log = attrs.log as boolean;
  const t = wgslType(x.dtype, 'softmax');
  if (t !== 'f32') throw new Error(`softmax: expects a float32 tensor on the webgpu backend, got ${x.dtype}`);
  const out = b.output(x.shape, x.dtype);
  if (inner === 1 && reduced >= MIN_ROW_FOR_WORKGROUP) {
    // Classifier logits: a workgroup per row for the max, the sum and the writes.
    const writeRow = log
      ? 'let logSum = log(total) + m; for (var r = lid; r < P.n; r += ROW_THREADS) { Y[base + r] = X[base + r] - logSum; }'
      : 'for (var r = lid; r < P.n; r += ROW_THREADS) { Y[base + r] = exp(X[base + r] - m) / total; }';
    const sg = useSubgroups(b);
    const red = workgroupReductions(ROW_THREADS, sg, [
      { name: 'rowMax', op: 'max', type: 'f32' },
      { name: 'rowSum', op: 'sum', type: 'f32' },
    ]);
    b.run(
      {
        name: `${log ? 'logSoftmax_rows' : 'softmax_rows'}${sg ? '_sg' : ''}`,
        enables: red.enables,
        inputs: [['X', 'f32']],
        outputs: [['Y', 'f32']],
        uniforms: [['rows', 'u32', outer], ['n', 'u32', reduced]],
        code: `
const ROW_THREADS = ${ROW_THREADS}u;
${red.code}
@compute @workgroup_size(${ROW_THREADS}) fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32${red.params}) {
  ${red.init}
  let row = wg.x + wg.y * nwg.x;
  let inRange = row < P.rows;
  let base = select(0u, row * P.n, inRange);
  var localMax = X[base];
  for (var r = lid; r < P.n; r += ROW_THREADS) { localMax = max(localMax, X[base + r]); }
  let m = rowMax(localMax, lid);
  var localSum = 0.0;
  for (var r = lid; r < P.n; r += ROW_THREADS) { localSum += exp(X[base + r] - m); }
  let total = rowSum(localSum, lid);
  if (inRange) { ${writeRow} }
}`,
        workgroups: rowGrid(outer),
      },
      [storageOf(x)],
      [out.storage],
    );
    return [out];
  }
  const n = outer * inner;
  const write = log
    ? 'let logSum = log(sum) + m; for (var r = 0u; r < P.reduced; r++) { let k = base + r * P.inner; Y[k] = X[k] - logSum; }'
    : 'for (var r = 0u; r < P.reduced; r++) { let k = base + r * P.inner; Y[k] = exp(X[k] - m) / sum; }';
  b.run(
    {
      name: log ? 'logSoftmax' : 'softmax',
      inputs: [['X', 'f32']],
      outputs: [['Y', 'f32']],
      uniforms: [['n', 'u32', n], ['reduced', 'u32', reduced], ['inner', 'u32', inner]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  let base = (i / P.inner) * P.reduced * P.inner + i % P.inner;
  var m = X[base];
  for (var r = 1u; r < P.reduced; r++) { m = max(m, X[base + r * P.inner]); }
  var sum = 0.0;
  for (var r = 0u; r < P.reduced; r++) { sum += exp(X[base + r * P.inner] - m); }
  ${write}
}`,
      workgroups: grid1d(n),
    },
    [storageOf(x)],
    [out.storage],
  );
  return [out];
});
