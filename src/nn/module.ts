import { keep, noGrad } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';
import { fmt } from '../ops/util.js';

export type StateDict = Map<string, Tensor>;

/** Thrown by loadStateDict in strict mode; lists every problem at once. */
export class StateDictError extends Error {
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: { key: string; expected: readonly number[]; got: readonly number[] }[],
  ) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys (${missing.length}): ${missing.join(', ')}`);
    if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.join(', ')}`);
    if (mismatched.length) parts.push(`shape mismatches (${mismatched.length}): ${mismatched.map((m) => `${m.key} expects ${fmt(m.expected)} but got ${fmt(m.got)}`).join('; ')}`);
    super(`loadStateDict: the state dict does not match the model.\n  ${parts.join('\n  ')}\n(pass { strict: false } to load the matching keys only)`);
    this.name = 'StateDictError';
  }
}

/**
 * Base class of layers and models. Parameters, buffers and submodules are registered under
 * names so that `stateDict()` produces PyTorch's dotted keys (`layer1.0.conv1.weight`).
 */
export abstract class Module {
  training = true;
  private readonly _parameters = new Map<string, Tensor | null>();
  private readonly _buffers = new Map<string, Tensor | null>();
  private readonly _modules = new Map<string, Module>();

  abstract forward(...inputs: Tensor[]): Tensor;

  /** Registers a trainable tensor (requires gradients, lives outside tidy scopes). */
  protected param(name: string, t: Tensor): Tensor;
  protected param(name: string, t: Tensor | null): Tensor | null;
  protected param(name: string, t: Tensor | null): Tensor | null {
    if (t) keep(t).requiresGrad_();
    this._parameters.set(name, t);
    return t;
  }

  /** Registers non-trainable state saved in the state dict (running statistics). */
  protected buffer(name: string, t: Tensor | null): Tensor | null {
    if (t) keep(t);
    this._buffers.set(name, t);
    return t;
  }

  protected module<M extends Module>(name: string, m: M): M {
    this._modules.set(name, m);
    return m;
  }

  /** Replaces a registered parameter tensor (e.g. after loading) keeping the slot name. */
  protected replaceParameter(name: string, t: Tensor): void {
    this._parameters.set(name, t);
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, m] of this._modules) yield* m.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *children(): Generator<[string, Module]> {
    yield* this._modules;
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, p] of m._parameters) if (p) yield [path ? `${path}.${name}` : name, p];
    }
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, b] of m._buffers) if (b) yield [path ? `${path}.${name}` : name, b];
    }
  }

  /** Number of scalar parameters (trainable or not). */
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /** Sets training mode recursively (dropout, batch-norm statistics). */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /**
   * Moves every parameter and buffer to backend `name` ('cpu', 'webgpu') in place and returns
   * this module. Create optimisers after moving: their state lives where the parameters were.
   *
   *   await initWebGPU();
   *   await model.to('webgpu');
   */
  async to(name: string): Promise<this> {
    for (const t of this.stateDict().values()) await t.moveTo(name);
    return this;
  }

  /** Parameters then buffers, by dotted name. The tensors are the live ones, not copies. */
  stateDict(): StateDict {
    const out: StateDict = new Map();
    for (const [path, m] of this.namedModules()) {
      for (const [name, p] of m._parameters) if (p) out.set(path ? `${path}.${name}` : name, p);
      for (const [name, b] of m._buffers) if (b) out.set(path ? `${path}.${name}` : name, b);
    }
    return out;
  }

  /**
   * Copies values from `state` into this module's tensors. Strict mode (default) requires
   * the exact same keys and shapes and reports every difference at once. With `transfer`
   * the tensors of `state` are moved in instead of copied (and disposed as sources).
   */
  loadStateDict(state: StateDict | Record<string, Tensor>, opts: { strict?: boolean; transfer?: boolean } = {}): { missing: string[]; unexpected: string[] } {
    const strict = opts.strict ?? true;
    const source = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !source.has(k));
    const unexpected = [...source.keys()].filter((k) => !own.has(k));
    const mismatched = [...own].filter(([k, t]) => source.has(k) && source.get(k)!.shape.join() !== t.shape.join()).map(([k, t]) => ({ key: k, expected: t.shape, got: source.get(k)!.shape }));
    if (strict && (missing.length || unexpected.length || mismatched.length)) throw new StateDictError(missing, unexpected, mismatched);
    noGrad(() => {
      for (const [k, target] of own) {
        const src = source.get(k);
        if (!src || src.shape.join() !== target.shape.join()) continue;
        // transfer: the module takes the state's tensors over (no copy); they are consumed.
        target.assign(src.dtype === target.dtype ? (opts.transfer ? src : src.clone()) : src.cast(target.dtype));
      }
    });
    return { missing, unexpected: [...unexpected, ...mismatched.map((m) => m.key)] };
  }

  /** Calls `forward`; modules are also callable through this. */
  call(...inputs: Tensor[]): Tensor {
    return this.forward(...inputs);
  }

  /** Stops gradients for parameters whose dotted name starts with one of `prefixes` (all when empty). */
  freeze(...prefixes: string[]): this {
    for (const [name, p] of this.namedParameters()) if (!prefixes.length || prefixes.some((x) => name.startsWith(x))) p.requiresGrad = false;
    return this;
  }

  unfreeze(...prefixes: string[]): this {
    for (const [name, p] of this.namedParameters()) if (!prefixes.length || prefixes.some((x) => name.startsWith(x))) p.requiresGrad = true;
    return this;
  }

  /** Disposes every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}
