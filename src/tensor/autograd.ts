import { ENGINE, keep, noGrad } from './engine.js';
import type { GradFn, Tensor } from './tensor.js';
import * as ops from '../ops/index.js';

/**
 * Attaches `backward` to `output` when gradient recording is on and an input requires
 * gradients. Ops call this after computing their forward result.
 */
export function record(output: Tensor, name: string, inputs: readonly Tensor[], backward: GradFn['backward']): Tensor {
  if (ENGINE.gradEnabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.gradFn = { name, inputs, backward };
  }
  return output;
}

/** Inside a backward: whether any of these inputs wants a gradient (skip the others' work). */
export function needsGrad(...inputs: Tensor[]): boolean {
  return inputs.some((t) => t.requiresGrad);
}

/** In a forward: whether the result will be recorded for autograd. */
export function willRecord(...inputs: Tensor[]): boolean {
  return ENGINE.gradEnabled && inputs.some((t) => t.requiresGrad);
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative post-order DFS: deep networks would overflow a recursive one.
  const stack: [Tensor, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.gradFn?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Reverse-mode differentiation from `root`. Leaf gradients accumulate into `.grad` (kept
 * outside any tidy scope); intermediate gradients are disposed as soon as they are used;
 * the graph is released afterwards, as in PyTorch without retain_graph. Contract for ops:
 * a backward returns new Tensor objects (views of `dy` are fine), never `dy` or an input.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not require gradients (no input of the computation had requiresGrad, or it ran inside noGrad)');
  if (!grad && root.size !== 1) throw new Error(`backward(): gradient can be implicitly created only for one-element outputs; got shape [${root.shape.join(', ')}] (pass a gradient tensor)`);
  if (grad && grad.shape.join() !== root.shape.join()) throw new Error(`backward(): gradient shape [${grad.shape.join(', ')}] does not match the output shape [${root.shape.join(', ')}]`);
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>();
  noGrad(() => {
    grads.set(root, grad ?? ops.onesLike(root));
    for (const t of order) {
      const dy = grads.get(t);
      if (!dy) continue;
      grads.delete(t);
      const fn = t.gradFn;
      if (!fn) {
        accumulateLeaf(t, dy);
        continue;
      }
      const inputGrads = fn.backward(dy);
      if (dy !== grad) dy.dispose();
      fn.inputs.forEach((input, i) => {
        const g = inputGrads[i];
        if (!g || !input.requiresGrad) {
          g?.dispose();
          return;
        }
        if (g.shape.join() !== input.shape.join()) {
          throw new Error(`internal: backward of ${fn.name} returned a gradient of shape [${g.shape.join(', ')}] for an input of shape [${input.shape.join(', ')}]`);
        }
        const previous = grads.get(input);
        if (previous) {
          grads.set(input, ops.add(previous, g));
          previous.dispose();
          g.dispose();
        } else {
          grads.set(input, g);
        }
      });
    }
  });
  for (const t of order) if (t.gradFn) t.gradFn = null;
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad && !leaf.grad.isDisposed) {
    const sum = ops.add(leaf.grad, g);
    leaf.grad.dispose();
    g.dispose();
    leaf.grad = keep(sum);
  } else {
    leaf.grad = keep(g);
  }
}
