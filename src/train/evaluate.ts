import { noGrad, tidy } from '../tensor/engine.js';
import { autocast } from '../tensor/autocast.js';
import { tensor } from '../ops/creation.js';
import { crossEntropy } from '../ops/loss.js';
import { argmax } from '../ops/reduce.js';
import type { Module } from '../nn/module.js';
import { DataLoader, type ImageDataset } from '../data/dataset.js';

export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
  /** confusion[trueClass][predictedClass] */
  confusion: number[][];
}

/** Accuracy, mean cross-entropy and the confusion matrix of `model` on a whole data set (eval mode). */
export async function evaluate(
  model: Module,
  ds: ImageDataset,
  opts: { batchSize?: number; onBatch?: (done: number, total: number) => void; /** 'float16': the forward under autocast. */ precision?: 'float32' | 'float16' } = {},
): Promise<EvalResult> {
  const wasTraining = model.training;
  model.eval();
  const loader = new DataLoader(ds, { batchSize: opts.batchSize ?? 256, shuffle: false });
  const classes = ds.classNames.length;
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let lossSum = 0;
  let correct = 0;
  let count = 0;
  const [C, H, W] = ds.shape;
  for (const batch of loader.batches(0)) {
    const [lossT, predT] = noGrad(() =>
      tidy(() => {
        const logits = autocast(() => model.forward(tensor(batch.images, [batch.size, C, H, W])), { enabled: opts.precision === 'float16' });
        return [crossEntropy(logits, tensor(batch.labels, [batch.size], 'int32'), { reduction: 'sum' }), argmax(logits, 1)];
      }),
    );
    lossSum += await lossT.item();
    const pred = await predT.data();
    lossT.dispose();
    predT.dispose();
    for (let i = 0; i < batch.size; i++) {
      confusion[batch.labels[i]][pred[i]]++;
      if (pred[i] === batch.labels[i]) correct++;
    }
    count += batch.size;
    opts.onBatch?.(count, ds.labels.length);
  }
  model.train(wasTraining);
  return { loss: lossSum / count, accuracy: correct / count, count, confusion };
}
