/**
 * Cross-entropy in one pass per row (log-sum-exp, the target product, the row sum) and its
 * gradient in one pass per element, from the row's saved [lse, sum q]. Class labels are read
 * directly (int32, or uint8 packed four to a word), with label smoothing as `on`/`off`; a label
 * outside [0, C) gives a NaN loss (a kernel cannot throw), which the trainer reports.
 */
import type { KernelTensor } from '../../backend.js';
import { FLAT_INDEX, MAIN_1D, grid1d, type WgslScalar } from '../program.js';
import { gpuKernel, storageOf } from './util.js';

interface Target {
  binding: [string, WgslScalar];
  /** WGSL of fn label(n: u32) -> i32 or fn targetAt(i: u32) -> f32. */
  code: string;
}

function target(t: KernelTensor, labels: boolean): Target {
  if (!labels) return { binding: ['T', 'f32'], code: 'fn targetAt(i: u32) -> f32 { return T[i]; }' };
  if (t.dtype === 'uint8') return { binding: ['T', 'u32'], code: 'fn label(n: u32) -> i32 { return i32((T[n / 4u] >> (8u * (n % 4u))) & 255u); }' };
  return { binding: ['T', 'i32'], code: 'fn label(n: u32) -> i32 { return T[n]; }' };
}

gpuKernel('crossEntropy', (b, [logits, t], attrs) => {
  const [N, C] = logits.shape;
  const labels = attrs.labels as boolean;
  const tg = target(t, labels);
  const loss = b.output([N], 'float32');
  const stats = b.output([N, 2], 'float32');
  const product = labels
    ? `let c = label(n);
  if (c < 0 || c >= i32(P.C)) { LOSS[n] = bitcast<f32>(P.nanBits); ST[2u * n] = lse; ST[2u * n + 1u] = 1.0; return; }
  var rest = 0.0;
  for (var j = 0u; j < P.C; j++) { rest += Z[base + j] - lse; }
  let hit = Z[base + u32(c)] - lse;
  let l = -(P.on * hit + P.off * (rest - hit));
  let sumq = P.on + f32(P.C - 1u) * P.off;`
    : `var l = 0.0;
  var sumq = 0.0;
  for (var j = 0u; j < P.C; j++) { let q = targetAt(base + j); l -= q * (Z[base + j] - lse); sumq += q; }`;
  b.run(
    {
      name: `crossEntropy${labels ? `_labels${t.dtype === 'uint8' ? '_u8' : ''}` : ''}`,
      inputs: [['Z', 'f32'], tg.binding],
      outputs: [['LOSS', 'f32'], ['ST', 'f32']],
      // A quiet NaN's bits as a uniform: WGSL rejects NaN in constant expressions.
      uniforms: [['N', 'u32', N], ['C', 'u32', C], ['on', 'f32', attrs.on as number], ['off', 'f32', attrs.off as number], ['nanBits', 'u32', 0x7fc00000]],
      code: `${tg.code}\n${FLAT_INDEX}\n${MAIN_1D} {
  let n = flatIndex(gid, nwg);
  if (n >= P.N) { return; }
  let base = n * P.C;
  var m = Z[base];
  for (var j = 1u; j < P.C; j++) { m = max(m, Z[base + j]); }
  var s = 0.0;
  for (var j = 0u; j < P.C; j++) { s += exp(Z[base + j] - m); }
  let lse = m + log(s);
  ${product}
  LOSS[n] = l;
  ST[2u * n] = lse;
  ST[2u * n + 1u] = sumq;
}`,
      workgroups: grid1d(N),
    },
    [storageOf(logits), storageOf(t)],
    [loss.storage, stats.storage],
  );
  return [loss, stats];
});

gpuKernel('crossEntropyBackward', (b, [dy, logits, t, stats], attrs) => {
  const [N, C] = logits.shape;
  const labels = attrs.labels as boolean;
  const tg = target(t, labels);
  const out = b.output(logits.shape, 'float32');
  const q = labels ? 'select(P.off, P.on, i32(i % P.C) == label(n))' : 'targetAt(i)';
  b.run(
    {
      name: `crossEntropyBackward${labels ? `_labels${t.dtype === 'uint8' ? '_u8' : ''}` : ''}`,
      inputs: [['DY', 'f32'], ['Z', 'f32'], tg.binding, ['ST', 'f32']],
      outputs: [['DZ', 'f32']],
      uniforms: [['total', 'u32', N * C], ['C', 'u32', C], ['on', 'f32', attrs.on as number], ['off', 'f32', attrs.off as number]],
      code: `${tg.code}\n${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let n = i / P.C;
  DZ[i] = DY[n] * (exp(Z[i] - ST[2u * n]) * ST[2u * n + 1u] - ${q});
}`,
      workgroups: grid1d(N * C),
    },
    [storageOf(dy), storageOf(logits), storageOf(t), storageOf(stats)],
    [out.storage],
  );
  return [out];
});
