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
      inputs: [aIn.binding, bIn.binding],
      outputs: [['Y', 'f32']],
      uniforms: [['bStride', 'u32', bBatchStride]],
      M, N, K, batch,
      code: `${aIn.code}
${bIn.code}
fn loadA(batch: u32, m: u32, k: u32) -> f32 { return ldA(batch * P.M * P.K + ${transA ? 'k * P.M + m' : 'm * P.K + k'}); }
fn loadB(batch: u32, k: u32, n: u32) -> f32 { return ldB(batch * P.bStride + ${transB ? 'n * P.K + k' : 'k * P.N + n'}); }
fn store(batch: u32, m: u32, n: u32, v: f32) { Y[batch * P.M * P.N + m * P.N + n] = v; }`,
    }),
    [storageOf(a), storageOf(c)],
    [out.storage],
  );
  return [out];
});
