/**
 * Max and average pooling (PyTorch semantics, as src/backends/cpu/kernels/pool2d.ts): forward one
 * thread per output, backward one thread per input element gathering from the windows that
 * cover it (no atomics).
 */
import { outputSize, type Pool2dParams } from '../../cpu/kernels/types.js';
import { FLAT_INDEX, MAIN_1D, grid1d, wgslType, type WgslScalar } from '../program.js';
import { gpuKernel, storageOf } from './util.js';

function outShape(p: Pool2dParams): [number, number, number, number] {
  const [n, c, h, w] = p.inShape;
  const oh = outputSize(h, p.kernel[0], p.stride[0], p.padding[0], p.dilation[0], p.ceilMode);
  const ow = outputSize(w, p.kernel[1], p.stride[1], p.padding[1], p.dilation[1], p.ceilMode);
  if (oh < 1 || ow < 1) throw new Error(`pool2d: input ${h}x${w} is too small for a ${p.kernel[0]}x${p.kernel[1]} window`);
  return [n, c, oh, ow];
}

function poolUniforms(p: Pool2dParams, total: number): [string, WgslScalar, number][] {
  const [, , oh, ow] = outShape(p);
  return [
    ['total', 'u32', total], ['H', 'i32', p.inShape[2]], ['W', 'i32', p.inShape[3]], ['outH', 'i32', oh], ['outW', 'i32', ow],
    ['kh', 'i32', p.kernel[0]], ['kw', 'i32', p.kernel[1]], ['sh', 'i32', p.stride[0]], ['sw', 'i32', p.stride[1]],
    ['ph', 'i32', p.padding[0]], ['pw', 'i32', p.padding[1]], ['dh', 'i32', p.dilation[0]], ['dw', 'i32', p.dilation[1]],
    ['countPad', 'u32', p.countIncludePad ? 1 : 0],
  ];
}

/**
 * For a window starting at `start` along an axis of `size` with padding `pad`: the in-bounds taps
 * [x, y) and, in z, the divisor factor (taps before the end of the padding with countIncludePad,
 * else the in-bounds taps), as the cpu kernel's tapRanges/countedTaps.
 */
const WINDOW_WGSL = `
fn window(start: i32, size: i32, pad: i32, dil: i32, k: i32) -> vec3i {
  var lo = 0;
  if (start < 0) { lo = (-start + dil - 1) / dil; }
  var hi = 0;
  if (size - 1 - start >= 0) { hi = min((size - 1 - start) / dil + 1, k); }
  lo = min(lo, hi);
  var counted = hi - lo;
  if (P.countPad == 1u) {
    let limit = size + pad - 1 - start;
    counted = select(min(k, limit / dil + 1), 0, limit < 0);
  }
  return vec3i(lo, hi, counted);
}`;

gpuKernel('maxPool2d', (b, [x], attrs) => {
  const p = attrs.params as Pool2dParams;
  if (wgslType(x.dtype, 'maxPool2d') !== 'f32') throw new Error(`maxPool2d: expects float32 on the webgpu backend, got ${x.dtype}`);
  const shape = outShape(p);
  const y = b.output(shape, x.dtype);
  const argmax = b.output(shape, 'int32');
  const total = shape.reduce((a, v) => a * v, 1);
  b.run(
    {
      name: 'maxPool2d',
      inputs: [['X', 'f32']],
      outputs: [['Y', 'f32'], ['ARG', 'i32']],
      uniforms: poolUniforms(p, total),
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let plane = u32(P.outH * P.outW);
  let base = (i / plane) * u32(P.H * P.W);
  let oh = i32(i % plane) / P.outW;
  let ow = i32(i % plane) % P.outW;
  var negInf = 0xff800000u;
  var best = bitcast<f32>(negInf);
  var bestIndex = -1;
  for (var ki = 0; ki < P.kh; ki++) {
    let ih = oh * P.sh - P.ph + ki * P.dh;
    if (ih < 0 || ih >= P.H) { continue; }
    for (var kj = 0; kj < P.kw; kj++) {
      let iw = ow * P.sw - P.pw + kj * P.dw;
      if (iw < 0 || iw >= P.W) { continue; }
      let v = X[base + u32(ih * P.W + iw)];
      if (v > best || bestIndex < 0) { best = v; bestIndex = ih * P.W + iw; }
    }
  }
  Y[i] = best;
  ARG[i] = bestIndex;
}`,
      workgroups: grid1d(total),
    },
    [storageOf(x)],
    [y.storage, argmax.storage],
  );
  return [y, argmax];
});

gpuKernel('maxPool2dBackward', (b, [dy, argmax], attrs) => {
  const p = attrs.params as Pool2dParams;
  const dx = b.output(p.inShape, dy.dtype);
  const total = p.inShape.reduce((a, v) => a * v, 1);
  b.run(
    {
      name: 'maxPool2dBackward',
      inputs: [['DY', 'f32'], ['ARG', 'i32']],
      outputs: [['DX', 'f32']],
      uniforms: poolUniforms(p, total),
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let inPlane = u32(P.H * P.W);
  let q = i32(i % inPlane);
  let ih = q / P.W;
  let iw = q % P.W;
  let outBase = (i / inPlane) * u32(P.outH * P.outW);
  var acc = 0.0;
  for (var ki = 0; ki < P.kh; ki++) {
    let th = ih + P.ph - ki * P.dh;
    if (th < 0 || th % P.sh != 0 || th / P.sh >= P.outH) { continue; }
    for (var kj = 0; kj < P.kw; kj++) {
      let tw = iw + P.pw - kj * P.dw;
      if (tw < 0 || tw % P.sw != 0 || tw / P.sw >= P.outW) { continue; }
      let o = outBase + u32((th / P.sh) * P.outW + tw / P.sw);
      if (ARG[o] == q) { acc += DY[o]; }
    }
  }
  DX[i] = acc;
}`,
      workgroups: grid1d(total),
    },
    [storageOf(dy), storageOf(argmax)],
    [dx.storage],
  );
  return [dx];
});

gpuKernel('avgPool2d', (b, [x], attrs) => {
  const p = attrs.params as Pool2dParams;
  if (wgslType(x.dtype, 'avgPool2d') !== 'f32') throw new Error(`avgPool2d: expects float32 on the webgpu backend, got ${x.dtype}`);
  const shape = outShape(p);
  const y = b.output(shape, x.dtype);
  const total = shape.reduce((a, v) => a * v, 1);
  b.run(
    {
      name: 'avgPool2d',
      inputs: [['X', 'f32']],
      outputs: [['Y', 'f32']],
      uniforms: poolUniforms(p, total),
      code: `${WINDOW_WGSL}\n${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let plane = u32(P.outH * P.outW);
  let base = (i / plane) * u32(P.H * P.W);
  let oh = i32(i % plane) / P.outW;
  let ow = i32(i % plane) % P.outW;
  let h0 = oh * P.sh - P.ph;
  let w0 = ow * P.sw - P.pw;
  let wh = window(h0, P.H, P.ph, P.dh, P.kh);
  let ww = window(w0, P.W, P.pw, P.dw, P.kw);
  if (wh.x >= wh.y || ww.x >= ww.y) { Y[i] = 0.0; return; }
  var s = 0.0;
  for (var ki = wh.x; ki < wh.y; ki++) {
    for (var kj = ww.x; kj < ww.y; kj++) { s += X[base + u32((h0 + ki * P.dh) * P.W + w0 + kj * P.dw)]; }
  }
  Y[i] = s / f32(wh.z * ww.z);
}`,
      workgroups: grid1d(total),
    },
    [storageOf(x)],
    [y.storage],
  );
  return [y];
});

gpuKernel('avgPool2dBackward', (b, [dy], attrs) => {
  const p = attrs.params as Pool2dParams;
  const dx = b.output(p.inShape, dy.dtype);
  const total = p.inShape.reduce((a, v) => a * v, 1);
  b.run(
    {
      name: 'avgPool2dBackward',
      inputs: [['DY', 'f32']],
      outputs: [['DX', 'f32']],
      uniforms: poolUniforms(p, total),
      code: `${WINDOW_WGSL}\n${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let inPlane = u32(P.H * P.W);
  let q = i32(i % inPlane);
  let ih = q / P.W;
  let iw = q % P.W;
  let outBase = (i / inPlane) * u32(P.outH * P.outW);
  var acc = 0.0;
  for (var ki = 0; ki < P.kh; ki++) {
    let th = ih + P.ph - ki * P.dh;
    if (th < 0 || th % P.sh != 0 || th / P.sh >= P.outH) { continue; }
    let oh = th / P.sh;
    for (var kj = 0; kj < P.kw; kj++) {
      let tw = iw + P.pw - kj * P.dw;
      if (tw < 0 || tw % P.sw != 0 || tw / P.sw >= P.outW) { continue; }
      let ow = tw / P.sw;
      let divisor = window(oh * P.sh - P.ph, P.H, P.ph, P.dh, P.kh).z * window(ow * P.sw - P.pw, P.W, P.pw, P.dw, P.kw).z;
      acc += DY[outBase + u32(oh * P.outW + ow)] / f32(divisor);
    }
  }
  DX[i] = acc;
}`,
      workgroups: grid1d(total),
    },
    [storageOf(dy)],
    [dx.storage],
  );
  return [dx];
});
