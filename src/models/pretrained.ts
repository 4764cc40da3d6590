import type { Module, StateDict } from '../nn/module.js';
import { StateDictError } from '../nn/module.js';
import { parseSafetensors } from '../io/safetensors.js';
import { tensorFromRaw } from '../io/state-dict.js';
import { fmt } from '../ops/util.js';
import { nodeBuiltin } from '../platform.js';
import { noGrad } from '../tensor/engine.js';
import { ones, zeros } from '../ops/creation.js';
import { defaultBias, defaultWeight, fans } from '../nn/init.js';

/** Turns a path, safetensors bytes or a state dict into a state dict (F16/BF16 become float32). */
export function readStateDict(weights: string | Uint8Array | StateDict): StateDict {
  if (weights instanceof Map) return weights;
  let bytes: Uint8Array;
  if (typeof weights === 'string') {
    const fs = nodeBuiltin<{ readFileSync(path: string): Uint8Array }>('node:fs');
    if (!fs) throw new Error(`weights '${weights}': file paths work in Node; in browsers pass the safetensors bytes (fetch(url).arrayBuffer()) or a state dict`);
    bytes = fs.readFileSync(weights);
  } else {
    bytes = weights;
  }
  const file = parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), typeof weights === 'string' ? weights : 'weights');
  const state: StateDict = new Map();
  for (const [key, raw] of file.tensors) state.set(key, tensorFromRaw(raw));
  return state;
}

export interface PretrainedReport {
  /** Head keys left at their initialisation because the file's head has another shape. */
  replacedHead: string[];
  reason: string;
}

/**
 * Loads `state` into `model` strictly, except that the classification head (keys starting
 * with one of `classifier`) is skipped when its shapes differ, as when fine-tuning a
 * 1000-class backbone for 10 classes. Any other difference is an error listing every key.
 */
export function loadPretrained(model: Module, state: StateDict, opts: { classifier: readonly string[]; model: string; transfer?: boolean }): PretrainedReport {
  const own = model.stateDict();
  const isHead = (key: string): boolean => opts.classifier.some((p) => key.startsWith(p));
  const headMismatch = [...own].filter(([k, t]) => isHead(k) && state.has(k) && state.get(k)!.shape.join() !== t.shape.join());
  if (!headMismatch.length) {
    model.loadStateDict(state, { transfer: opts.transfer });
    return { replacedHead: [], reason: '' };
  }
  const body = new Map([...state].filter(([k]) => !isHead(k)));
  const missingBody = [...own.keys()].filter((k) => !isHead(k) && !body.has(k));
  const unexpected = [...body.keys()].filter((k) => !own.has(k));
  const mismatched = [...body].filter(([k, t]) => own.has(k) && own.get(k)!.shape.join() !== t.shape.join())
    .map(([k, t]) => ({ key: k, expected: own.get(k)!.shape, got: t.shape }));
  if (missingBody.length || unexpected.length || mismatched.length) throw new StateDictError(missingBody, unexpected, mismatched);
  model.loadStateDict(body, { strict: false, transfer: opts.transfer });
  const [k, t] = headMismatch[0];
  return { replacedHead: headMismatch.map(([key]) => key), reason: `the weights have ${k} ${fmt(state.get(k)!.shape)}, the model ${fmt(t.shape)}` };
}

/**
 * Gives the parameters named by `keys` PyTorch's default initialisation for a fresh layer
 * (weights and biases U(+-1/sqrt(fan_in)); 1-D norm weights 1, their biases 0): a replaced
 * classification head, when the rest of the model was built without random initialisation.
 */
export function reinitialise(model: Module, keys: readonly string[]): void {
  const params = new Map(model.namedParameters());
  noGrad(() => {
    for (const key of keys) {
      const p = params.get(key);
      if (!p) continue;
      const isWeight = key.endsWith('weight');
      if (p.ndim >= 2) {
        p.assign(defaultWeight(p.shape));
      } else if (isWeight) {
        p.assign(ones(p.shape));
      } else {
        const weight = params.get(key.replace(/bias$/, 'weight'));
        if (weight && weight.ndim >= 2) p.assign(defaultBias(p.size, fans(weight.shape).fanIn));
        else p.assign(zeros(p.shape));
      }
    }
  });
}
