import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../../../src/tensor/rng.js';
import { col2im, im2col, validRange, type Im2colGeometry } from '../../../../src/backends/cpu/kernels/im2col.js';
import { outputSize } from '../../../../src/backends/cpu/kernels/types.js';
import { assertScalarClose, dot, randomArray, absDot } from './util.js';

function geometry(rng: Rng): Im2colGeometry {
  const kernelH = 1 + rng.int(4), kernelW = 1 + rng.int(4);
  const strideH = 1 + rng.int(3), strideW = 1 + rng.int(3);
  const padH = rng.int(3), padW = rng.int(3);
  const dilationH = 1 + rng.int(2), dilationW = 1 + rng.int(2);
  const height = dilationH * (kernelH - 1) + 1 + rng.int(6);
  const width = dilationW * (kernelW - 1) + 1 + rng.int(6);
  return {
    channels: 1 + rng.int(3), height, width, kernelH, kernelW, strideH, strideW, padH, padW, dilationH, dilationW,
    outH: outputSize(height, kernelH, strideH, padH, dilationH),
    outW: outputSize(width, kernelW, strideW, padW, dilationW),
  };
}

function naiveIm2col(x: ArrayLike<number>, xOff: number, g: Im2colGeometry): Float64Array {
  const cols = new Float64Array(g.channels * g.kernelH * g.kernelW * g.outH * g.outW);
  let i = 0;
  for (let c = 0; c < g.channels; c++)
    for (let ki = 0; ki < g.kernelH; ki++)
      for (let kj = 0; kj < g.kernelW; kj++)
        for (let oh = 0; oh < g.outH; oh++)
          for (let ow = 0; ow < g.outW; ow++, i++) {
            const ih = oh * g.strideH - g.padH + ki * g.dilationH;
            const iw = ow * g.strideW - g.padW + kj * g.dilationW;
            cols[i] = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width ? x[xOff + (c * g.height + ih) * g.width + iw] : 0;
          }
  return cols;
}

test('validRange gives exactly the in-bounds output positions', () => {
  for (let shift = -7; shift <= 7; shift++)
    for (let stride = 1; stride <= 3; stride++)
      for (const size of [1, 2, 5])
        for (const outSize of [0, 1, 4, 9]) {
          const [lo, hi] = validRange(shift, stride, size, outSize);
          for (let o = 0; o < outSize; o++) {
            const inside = o * stride + shift >= 0 && o * stride + shift < size;
            assert.equal(o >= lo && o < hi, inside, `shift ${shift} stride ${stride} size ${size} o ${o}`);
          }
        }
});

test('im2col matches a naive gather and col2im is its adjoint', () => {
  const rng = new Rng(11);
  for (let r = 0; r < 60; r++) {
    const g = geometry(rng);
    const xOff = rng.int(5);
    const x = randomArray(rng, xOff + g.channels * g.height * g.width, r % 2 ? 'float32' : 'float64');
    const rows = g.channels * g.kernelH * g.kernelW;
    const cols = randomArray(rng, 2 + rows * g.outH * g.outW, 'float64'); // garbage must be overwritten
    im2col(x, xOff, g, cols, 2);
    assert.deepEqual([...cols.subarray(2)], [...naiveIm2col(x, xOff, g)]);

    // <im2col(x), c> == <x, col2im(c)>
    const x64 = randomArray(rng, g.channels * g.height * g.width);
    const c = randomArray(rng, rows * g.outH * g.outW);
    const colsX = new Float64Array(c.length);
    im2col(x64, 0, g, colsX);
    const back = new Float64Array(x64.length + 3);
    back.fill(1, 0, 3);
    col2im(c, 0, g, back, 3);
    assert.deepEqual([...back.subarray(0, 3)], [1, 1, 1]);
    assertScalarClose(dot(colsX, c), dot(x64, back.subarray(3)), 1e-12, 'adjoint', absDot(colsX, c));
  }
});
