/** matmul: batched op(A) @ op(B) on the tiled GEMM (float32, or float16 operands with float32 results). */
import { gemmProgram } from './gemm.js';
import { halfSuffix, operand, productDtype } from './half.js';
import { gpuKernel, storageOf } from './util.js';

gpuKernel('matmul', (b, [a, c], attrs) => {
  const { batch, M, N, K, transA, transB } = attrs as { batch: number; M: number; N: number; K: number; transA: boolean; transB: boolean };
  const aIn = operand('A', a.dtype, 'matmul');
  const bIn = operand('B', c.dtype, 'matmul');
  const out = b.output(attrs.outShape as number[], productDtype(a.dtype));
  // A rank-2 B is shared by every batch of A (the op layer folds that case into batch 1).
  const bBatchStride = c.shape.length > 2 ? K * N : 0;
  b.run(
    gemmProgram({
      name: `matmul_${transA ? 't' : 'n'}${transB ? 't' : 'n'}${halfSuffix(a.dtype, c.dtype)}`,
      key: `${a.dtype},${c.dtype}`,
      inputs: [aIn.binding, bIn.binding],
      outputs: [['Y', 'f32']],
      uniforms: [['bStride', 'u32', bBatchStride]],
      M, N, K, batch,
      // Neighbouring threads walk the index that is contiguous in memory.
      layoutA: transA ? 'm' : 'k',
      layoutB: transB ? 'k' : 'n',
      hooks: ['rowA', 'kA', 'colB', 'kB', 'colY'],
      code: `${aIn.code}
${bIn.code}
alias RowA = u32;
alias KA = u32;
alias ColB = u32;
alias KB = u32;
alias ColY = u32;
fn rowA(batch: u32, m: u32) -> u32 { return batch * P.M * P.K + ${transA ? 'm' : 'm * P.K'}; }
fn kA(batch: u32, k: u32) -> u32 { return ${transA ? 'k * P.M' : 'k'}; }
fn loadA(batch: u32, row: u32, k: u32) -> f32 { return ldA(row + k); }
fn colB(batch: u32, n: u32) -> u32 { return batch * P.bStride + ${transB ? 'n * P.K' : 'n'}; }
fn kB(batch: u32, k: u32) -> u32 { return ${transB ? 'k' : 'k * P.N'}; }
fn loadB(batch: u32, k: u32, col: u32) -> f32 { return ldB(col + k); }
fn colY(batch: u32, n: u32) -> u32 { return batch * P.M * P.N + n; }
fn store(batch: u32, m: u32, col: u32, v: f32) { Y[col + m * P.N] = v; }`,
    }),
    [storageOf(a), storageOf(c)],
    [out.storage],
  );
  return [out];
});
