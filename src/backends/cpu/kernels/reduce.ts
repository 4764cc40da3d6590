import type { TypedArray } from '../../../tensor/dtype.js';

export type ReduceName = 'sum' | 'max' | 'min';

/**
 * Reduces `x` over the contiguous block of axes [outer | reduced | inner]: out has
 * outer * inner elements. Sums accumulate in float64 (JavaScript numbers).
 */
export function reduceBlock(name: ReduceName, x: TypedArray, outer: number, reduced: number, inner: number, out: TypedArray): void {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      const base = o * reduced;
      let acc = name === 'sum' ? 0 : x[base];
      if (name === 'sum') for (let r = 0; r < reduced; r++) acc += x[base + r];
      else if (name === 'max') for (let r = 1; r < reduced; r++) { const v = x[base + r]; if (v > acc || v !== v) acc = v; }
      else for (let r = 1; r < reduced; r++) { const v = x[base + r]; if (v < acc || v !== v) acc = v; }
      out[o] = reduced === 0 && name !== 'sum' ? NaN : acc;
    }
    return;
  }
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * reduced * inner;
    if (name === 'sum') acc.fill(0);
    else for (let i = 0; i < inner; i++) acc[i] = reduced ? x[base + i] : NaN;
    for (let r = name === 'sum' ? 0 : 1; r < reduced; r++) {
      const row = base + r * inner;
      if (name === 'sum') for (let i = 0; i < inner; i++) acc[i] += x[row + i];
      else if (name === 'max') for (let i = 0; i < inner; i++) { const v = x[row + i]; if (v > acc[i] || v !== v) acc[i] = v; }
      else for (let i = 0; i < inner; i++) { const v = x[row + i]; if (v < acc[i] || v !== v) acc[i] = v; }
    }
    for (let i = 0; i < inner; i++) out[o * inner + i] = acc[i];
  }
}

/** Index of the maximum along the middle axis of [outer, n, inner] (first on ties, NaN wins). */
export function argmaxBlock(x: TypedArray, outer: number, n: number, inner: number, out: Int32Array): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let best = x[base];
      let bestIndex = 0;
      for (let r = 1; r < n && best === best; r++) {
        const v = x[base + r * inner];
        if (v > best || v !== v) {
          best = v;
          bestIndex = r;
        }
      }
      out[o * inner + i] = bestIndex;
    }
  }
}

/** softmax or log-softmax along the middle axis of [outer, n, inner], max-subtracted. */
export function softmaxBlock(x: TypedArray, outer: number, n: number, inner: number, log: boolean, out: TypedArray): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let max = -Infinity;
      for (let r = 0; r < n; r++) max = Math.max(max, x[base + r * inner]);
      let sum = 0;
      for (let r = 0; r < n; r++) sum += Math.exp(x[base + r * inner] - max);
      if (log) {
        const logSum = Math.log(sum) + max;
        for (let r = 0; r < n; r++) out[base + r * inner] = x[base + r * inner] - logSum;
      } else {
        for (let r = 0; r < n; r++) out[base + r * inner] = Math.exp(x[base + r * inner] - max) / sum;
      }
    }
  }
}
