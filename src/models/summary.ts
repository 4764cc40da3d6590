import { noGrad, tidy } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';
import { Rng } from '../tensor/rng.js';
import { BYTES_PER_ELEMENT } from '../tensor/dtype.js';
import { randn } from '../ops/creation.js';
import { Conv2d, Linear } from '../nn/layers.js';
import { withoutFusion } from '../nn/fused.js';
import type { Module } from '../nn/module.js';

/** One module call of the summarised forward pass. */
export interface LayerRow {
  /** Dotted module path as in the state dict ('' for the model itself). */
  name: string;
  /** Class name of the module. */
  type: string;
  /** Number of dots in the path plus one (0 for the model itself). */
  depth: number;
  /** True for modules without submodules. */
  leaf: boolean;
  outputShape: number[];
  /** Parameters registered on this module itself (not its submodules); 0 on repeated calls. */
  params: number;
  /** Multiply-accumulates of conv and linear layers; 0 for containers (their contents have rows). */
  macs: number;
  /**
   * Mean milliseconds per forward (profile only). Self time: a container's row holds only what
   * ran outside its submodules (functional ops in its forward), so the rows add up to the forward.
   */
  ms?: number;
  /** ms as a fraction of the whole forward (profile only). */
  share?: number;
}

export interface SummaryTotals {
  /** All parameters of the model, called or not. */
  params: number;
  trainableParams: number;
  macs: number;
  inputShape: number[];
  /** Bytes of every leaf module's output: what a training forward keeps for backward. */
  activationBytes: number;
  /** Mean milliseconds of the whole forward (profile only). */
  forwardMs?: number;
  /** Timed forwards behind the means (profile only). */
  runs?: number;
}

export interface ModelSummary {
  rows: LayerRow[];
  totals: SummaryTotals;
}

export interface SummaryOptions {
  /** Time every module over `runs` forwards after one warm-up. */
  profile?: boolean;
  /** Timed forwards with `profile` (default 10). */
  runs?: number;
  /** Also list container modules (default: only leaves and containers that own parameters). */
  containers?: boolean;
}

/**
 * Multiply-accumulates of one leaf call, the convention of the torchvision and timm tables
 * ("GFLOPS" there): convolutions and linear layers only, biases, norms, pooling and
 * element-wise ops free.
 */
export function leafMacs(module: Module, output: Tensor): number {
  if (module instanceof Conv2d) {
    const [, inPerGroup, kh, kw] = module.weight.shape;
    return output.size * inPerGroup * kh * kw;
  }
  if (module instanceof Linear) return output.size * module.inFeatures;
  return 0;
}

function ownParameterCount(module: Module): number {
  let n = 0;
  // A parameter of a submodule has a dotted name; the module's own ones do not.
  for (const [name, p] of module.namedParameters()) if (!name.includes('.')) n += p.size;
  return n;
}

type ForwardHook = (module: Module, run: () => Tensor) => Tensor;

/**
 * Runs `fn` with every module's `forward` routed through `hook`. The wrapper is an own property
 * shadowing the prototype method, so direct `child.forward(x)` calls inside parents are seen
 * too; the previous state is restored even when `fn` throws.
 */
function withForwardHook<T>(modules: Iterable<Module>, hook: ForwardHook, fn: () => T): T {
  const saved: [Module, PropertyDescriptor | undefined][] = [];
  try {
    for (const module of modules) {
      const original = module.forward;
      saved.push([module, Object.getOwnPropertyDescriptor(module, 'forward')]);
      Object.defineProperty(module, 'forward', {
        value: (...inputs: Tensor[]) => hook(module, () => original.apply(module, inputs)),
        configurable: true,
        writable: true,
      });
    }
    return fn();
  } finally {
    for (const [module, own] of saved) {
      if (own) Object.defineProperty(module, 'forward', own);
      else Reflect.deleteProperty(module, 'forward');
    }
  }
}

function hasChildren(module: Module): boolean {
  return !module.children().next().done;
}

/**
 * Mean self milliseconds of each module call (by call index) over `runs` forwards after one
 * warm-up, and of the whole forward. A call's self time excludes the module calls inside it.
 */
function timeCalls(modules: Module[], forward: () => void, calls: number, runs: number): { selfMs: number[]; forwardMs: number } {
  const self = new Float64Array(calls);
  let call = 0;
  let forwardTotal = 0;
  const open: number[] = [];
  const time: ForwardHook = (_module, run) => {
    const index = call++;
    open.push(index);
    const t0 = performance.now();
    try {
      return tidy(run);
    } finally {
      const elapsed = performance.now() - t0;
      open.pop();
      self[index] += elapsed;
      const parent = open[open.length - 1];
      if (parent === undefined) forwardTotal += elapsed;
      else self[parent] -= elapsed;
    }
  };
  withForwardHook(modules, time, () => {
    forward(); // warm-up: caches, array pool, lazy kernel setup
    self.fill(0);
    forwardTotal = 0;
    for (let r = 1; r <= runs; r++) {
      call = 0;
      forward();
      if (call !== calls) throw new Error(`summarize: the forward made ${call} module calls on timed run ${r} but ${calls} on the first; profiling needs a forward that takes the same path every time`);
    }
  });
  // A container's self time is a difference of clock readings and can come out a hair below zero.
  return { selfMs: [...self].map((t) => Math.max(0, t / runs)), forwardMs: forwardTotal / runs };
}

/**
 * Per-layer table of a model at one input shape: output shapes, parameters and MACs of every
 * module call in call order (containers before their contents), from one eval-mode forward
 * under noGrad on a seeded random input. With `profile`, every module is also timed.
 */
export function summarize(model: Module, inputShape: readonly number[], options: SummaryOptions = {}): ModelSummary {
  const runs = options.runs ?? 10;
  if (options.profile && (!Number.isInteger(runs) || runs < 1)) throw new Error(`summarize: runs must be an integer >= 1, got ${runs}`);
  const names = new Map<Module, string>();
  for (const [name, m] of model.namedModules()) if (!names.has(m)) names.set(m, name);
  const modules = [...names.keys()];
  const training = new Map(modules.map((m) => [m, m.training]));

  const rows: LayerRow[] = [];
  const seen = new Set<Module>();
  let macsSoFar = 0;
  let activationBytes = 0;
  const record: ForwardHook = (module, run) => {
    const name = names.get(module)!;
    const leaf = !hasChildren(module);
    const row: LayerRow = { name, type: module.constructor.name, depth: name ? name.split('.').length : 0, leaf, outputShape: [], params: seen.has(module) ? 0 : ownParameterCount(module), macs: 0 };
    seen.add(module);
    rows.push(row);
    // A scope per call frees each module's temporaries as it returns, so peak memory stays
    // near that of a plain inference forward even for 600x600 inputs.
    const out = tidy(run);
    if (out instanceof Tensor) row.outputShape = [...out.shape];
    if (leaf && out instanceof Tensor) {
      row.macs = leafMacs(module, out);
      macsSoFar += row.macs;
      activationBytes += out.size * BYTES_PER_ELEMENT[out.dtype];
    }
    return out;
  };

  const input = randn(inputShape, { rng: new Rng(0) });
  // Fused inference runs conv + norm + activation as one op, past the layers' own forwards.
  const forward = (): void => withoutFusion(() => noGrad(() => tidy(() => void model.forward(input))));
  let timing: { selfMs: number[]; forwardMs: number } | undefined;
  try {
    model.eval();
    withForwardHook(modules, record, forward);
    if (options.profile) timing = timeCalls(modules, forward, rows.length, runs);
  } finally {
    input.dispose();
    for (const [m, mode] of training) m.training = mode;
  }

  const params = model.parameters();
  const totals: SummaryTotals = {
    params: params.reduce((s, p) => s + p.size, 0),
    trainableParams: params.reduce((s, p) => s + (p.requiresGrad ? p.size : 0), 0),
    macs: macsSoFar,
    inputShape: [...inputShape],
    activationBytes,
  };
  if (timing) {
    const { selfMs, forwardMs } = timing;
    rows.forEach((row, i) => {
      row.ms = selfMs[i];
      row.share = forwardMs > 0 ? selfMs[i] / forwardMs : 0;
    });
    totals.forwardMs = forwardMs;
    totals.runs = runs;
  }
  const shown = options.containers ? rows : rows.filter((r) => r.leaf || r.params > 0);
  return { rows: shown, totals };
}

/**
 * The rows of a summary made with `containers: true`, cut at `depth`: one row per module at
 * that depth, holding its whole subtree's params, MACs and time, plus the shallower leaves and
 * shallower containers that own parameters. Params and MACs still add up to the totals; the
 * self time of the shallower containers that were dropped does not.
 */
export function collapseToDepth(rows: readonly LayerRow[], depth: number): LayerRow[] {
  const out: LayerRow[] = [];
  for (const row of rows) {
    if (row.depth > depth) {
      // Call order lists a module's contents right after it, so the last row kept is the ancestor.
      const ancestor = out[out.length - 1];
      if (ancestor?.depth === depth) {
        ancestor.params += row.params;
        ancestor.macs += row.macs;
        if (ancestor.ms !== undefined && row.ms !== undefined) ancestor.ms += row.ms;
        if (ancestor.share !== undefined && row.share !== undefined) ancestor.share += row.share;
      }
      continue;
    }
    if (row.leaf || row.depth === depth || row.params > 0) out.push({ ...row });
  }
  return out;
}
