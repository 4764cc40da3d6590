import type { Backend, KernelOutput, Storage } from '../backends/backend.js';
import { getKernel, type KernelAttrs } from '../backends/registry.js';
import { Rng } from './rng.js';
import { Tensor } from './tensor.js';

/**
 * Global state of the tensor runtime: the backends, the active one, memory scopes, the
 * autograd switch and the default random generator.
 */
class Engine {
  readonly backends = new Map<string, Backend>();
  private backendFactories = new Map<string, () => Backend>();
  private active: Backend | null = null;
  readonly scopes: Set<Tensor>[] = [];
  gradEnabled = true;
  liveTensors = 0;
  rng = new Rng(0);

  registerBackend(name: string, factory: () => Backend): void {
    this.backendFactories.set(name, factory);
  }

  backend(name?: string): Backend {
    if (name === undefined) {
      if (!this.active) this.active = this.backend('cpu');
      return this.active;
    }
    let b = this.backends.get(name);
    if (!b) {
      const factory = this.backendFactories.get(name);
      if (!factory) throw new Error(`unknown backend '${name}'; registered backends: ${[...this.backendFactories.keys()].join(', ')}`);
      b = factory();
      this.backends.set(name, b);
    }
    return b;
  }

  setBackend(name: string): void {
    this.active = this.backend(name);
  }

  track(t: Tensor): void {
    this.liveTensors++;
    const scope = this.scopes[this.scopes.length - 1];
    if (scope) scope.add(t);
  }

  untrack(t: Tensor): void {
    this.liveTensors--;
    for (let i = this.scopes.length - 1; i >= 0; i--) if (this.scopes[i].delete(t)) break;
  }

  /** Runs a kernel on the backend of its inputs (or the active one) and wraps the outputs. */
  run(kernelName: string, inputs: readonly Tensor[], attrs: KernelAttrs = {}): Tensor[] {
    // Kernels without inputs (fill, random masks) run on the backend named in attrs.backend, else the active one.
    const backend = inputs.length ? inputs[0].backend : this.backend(attrs.backend as string | undefined);
    const what = typeof attrs.op === 'string' ? attrs.op : kernelName;
    for (const t of inputs) {
      if (t.dtype === 'float16' && !FLOAT16_KERNELS.has(kernelName)) {
        throw new Error(`${what}: got a float16 tensor (shape [${t.shape.join(', ')}]); float16 is storage for mixed precision, taken only by cast, conv2d, matmul and linear: cast it first (x.cast('float32'))`);
      }
      if (t.isDisposed) throw new Error(`${what}: an input tensor (shape [${t.shape.join(', ')}]) was already disposed; keep() it or create it outside the tidy() that released it`);
      if (t.backend !== backend) throw new Error(`${what}: inputs live on different backends ('${backend.name}' and '${t.backend.name}'); move them with \`await t.to('${backend.name}')\` (a module: \`await model.to('${backend.name}')\`)`);
    }
    const outputs = getKernel(backend.name, kernelName)(backend, inputs, attrs);
    return outputs.map((o) => this.wrap(o, backend));
  }

  wrap(o: KernelOutput, backend: Backend): Tensor {
    return Tensor.fromStorage(o.storage, o.shape, o.dtype, backend);
  }

  retain(storage: Storage): void {
    storage.refCount++;
  }

  release(storage: Storage, backend: Backend): void {
    if (--storage.refCount === 0) backend.free(storage);
  }
}

export const ENGINE = new Engine();

/** Kernels that read float16 inputs (mixed precision: their products and sums are in float32). */
const FLOAT16_KERNELS = new Set(['cast', 'conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight', 'matmul']);

export function getBackend(name?: string): Backend {
  return ENGINE.backend(name);
}

/** Makes `name` ('cpu', later 'wasm' or 'webgpu') the backend new tensors are created on. */
export function setBackend(name: string): void {
  ENGINE.setBackend(name);
}

/** Seeds the default generator used by randn/rand/dropout/initialisation. */
export function manualSeed(seed: number): void {
  ENGINE.rng.seed(seed);
}

export function isGradEnabled(): boolean {
  return ENGINE.gradEnabled;
}

/** Runs `fn` with gradient recording off (inference, optimiser updates, metrics). */
export function noGrad<T>(fn: () => T): T {
  const previous = ENGINE.gradEnabled;
  ENGINE.gradEnabled = false;
  try {
    return fn();
  } finally {
    ENGINE.gradEnabled = previous;
  }
}

type Tidyable = Tensor | Tidyable[] | { [key: string]: Tidyable } | number | string | boolean | null | undefined | void;

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) into.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, into);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the tensors it returns (in
 * any array or plain object) and tensors passed to `keep()`. Returned tensors move to the
 * enclosing scope. `fn` must be synchronous: a promise cannot be tracked.
 */
export function tidy<T extends Tidyable>(fn: () => T): T {
  const scope = new Set<Tensor>();
  ENGINE.scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    ENGINE.scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  ENGINE.scopes.pop();
  if (result && typeof (result as { then?: unknown }).then === 'function') {
    throw new Error('tidy(): the function returned a promise; tidy only tracks synchronous code (await outside the tidy)');
  }
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  const parent = ENGINE.scopes[ENGINE.scopes.length - 1];
  for (const t of scope) {
    if (survivors.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Exempts `t` from the enclosing tidy() scopes; it lives until disposed explicitly. */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of ENGINE.scopes) scope.delete(t);
  return t;
}

/** Live tensor count and bytes held by each instantiated backend. */
export function memory(): { numTensors: number; bytes: Record<string, number> } {
  const bytes: Record<string, number> = {};
  for (const [name, b] of ENGINE.backends) bytes[name] = b.bytesInUse();
  return { numTensors: ENGINE.liveTensors, bytes };
}

/** Runs a kernel by name; for op implementations. */
export function runKernel(kernelName: string, inputs: readonly Tensor[], attrs: KernelAttrs = {}): Tensor[] {
  return ENGINE.run(kernelName, inputs, attrs);
}
