/**
 * Optimiser updates, one pass per parameter (PyTorch's torch.optim.SGD and AdamW rules):
 * intermediates in float64, each stored value rounded once to the element type. Registered
 * here as the cpu kernels `sgdUpdate` and `adamwUpdate`; the webgpu twins are in
 * src/backends/webgpu/kernels/optim.ts.
 */
import { registerKernel } from '../../registry.js';
import type { KernelTensor } from '../../backend.js';
import { takeArray } from '../array-pool.js';
import { valuesOf, type CpuBackend } from '../cpu-backend.js';
import type { FloatArray } from './types.js';

export interface SgdConfig {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
}

/**
 * d = grad + weightDecay * param; with momentum, buf = buf ? momentum * buf + (1 - dampening) * d
 * : d (the first step), and d = nesterov ? d + momentum * buf : buf; param -= lr * d. `buf` and
 * `outBuf` are null without momentum; `buf` is null on the first step.
 */
export function sgdUpdate(p: FloatArray, g: FloatArray, buf: FloatArray | null, c: SgdConfig, outP: FloatArray, outBuf: FloatArray | null): void {
  const { lr, momentum, weightDecay, nesterov } = c;
  const keep = 1 - c.dampening;
  for (let i = 0; i < p.length; i++) {
    let d = weightDecay ? g[i] + p[i] * weightDecay : g[i];
    if (outBuf) {
      const b = buf ? buf[i] * momentum + d * keep : d;
      outBuf[i] = b;
      d = nesterov ? d + b * momentum : b;
    }
    outP[i] = p[i] - lr * d;
  }
}

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1 - beta1^step and 1 - beta2^step. */
  biasCorrection1: number;
  biasCorrection2: number;
}

/**
 * m = beta1 * m + (1 - beta1) * g, v = beta2 * v + (1 - beta2) * g^2 (from zero on the first step,
 * when m0/v0 are null); param = param * (1 - lr * weightDecay) - lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps).
 */
export function adamwUpdate(
  p: FloatArray,
  g: FloatArray,
  m0: FloatArray | null,
  v0: FloatArray | null,
  c: AdamWConfig,
  outP: FloatArray,
  outM: FloatArray,
  outV: FloatArray,
): void {
  const { beta1, beta2, eps } = c;
  const decay = 1 - c.lr * c.weightDecay;
  const stepSize = c.lr / c.biasCorrection1;
  const bc2Sqrt = Math.sqrt(c.biasCorrection2);
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    const m = m0 ? m0[i] * beta1 + gi * (1 - beta1) : gi * (1 - beta1);
    const v = v0 ? v0[i] * beta2 + gi * gi * (1 - beta2) : gi * gi * (1 - beta2);
    outM[i] = m;
    outV[i] = v;
    outP[i] = p[i] * decay - (m / (Math.sqrt(v) / bc2Sqrt + eps)) * stepSize;
  }
}

const f = (t: KernelTensor): FloatArray => valuesOf(t) as FloatArray;
const fresh = (t: KernelTensor): FloatArray => takeArray(t.dtype, f(t).length, false) as FloatArray;

// Inputs [param, grad, momentumBuffer if attrs.hasBuffer]; outputs [param, momentumBuffer if momentum].
registerKernel('cpu', 'sgdUpdate', (backend, inputs, attrs) => {
  const [p, g] = inputs;
  const c = attrs as unknown as SgdConfig;
  const outP = fresh(p);
  const outBuf = c.momentum ? fresh(p) : null;
  sgdUpdate(f(p), f(g), attrs.hasBuffer ? f(inputs[2]) : null, c, outP, outBuf);
  const b = backend as CpuBackend;
  return outBuf ? [b.output(outP, p.shape), b.output(outBuf, p.shape)] : [b.output(outP, p.shape)];
});

// Inputs [param, grad, expAvg and expAvgSq if attrs.hasState]; outputs [param, expAvg, expAvgSq].
registerKernel('cpu', 'adamwUpdate', (backend, inputs, attrs) => {
  const [p, g] = inputs;
  const [outP, outM, outV] = [fresh(p), fresh(p), fresh(p)];
  const state = attrs.hasState ? [f(inputs[2]), f(inputs[3])] : [null, null];
  adamwUpdate(f(p), f(g), state[0], state[1], attrs as unknown as AdamWConfig, outP, outM, outV);
  const b = backend as CpuBackend;
  return [b.output(outP, p.shape), b.output(outM, p.shape), b.output(outV, p.shape)];
});
