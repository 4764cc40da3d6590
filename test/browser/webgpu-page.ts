// Runs in Chromium (bundled by test/browser/browser.test.ts): fovea's WebGPU backend on the
// adapter the browser offers (SwiftShader without a GPU): a resnet8-cifar inference and one SGD
// training step, each compared with the same computation on the cpu backend, and a float16
// mixed-precision (autocast) forward. Without an adapter
// the page says so and shows the CPU fallback working. Reports what it saw to the test (./report.ts).
import { autocast, initWebGPU, setBackend, createModel, manualSeed, noGrad, ops, optim, tensor, Rng, type Tensor } from '../../src/browser.js';
import { report } from './report.js';

const input = (() => {
  const rng = new Rng(3);
  return Float32Array.from({ length: 4 * 3 * 32 * 32 }, () => rng.normal());
})();
const labels = new Int32Array([1, 4, 7, 9]);

function maxRel(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let scale = 1e-6;
  for (let i = 0; i < b.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / scale;
}

async function onBackend(backend: string): Promise<{ logits: Float32Array; halfLogits: Float32Array; loss: number; updated: Float32Array }> {
  setBackend(backend);
  manualSeed(5);
  const model = createModel('resnet8-cifar', { numClasses: 10 });
  const x = tensor(input.slice(), [4, 3, 32, 32]);
  model.eval();
  const logits = (await noGrad(() => model.forward(x)).data()) as Float32Array;
  const halfLogits = (await noGrad(() => autocast(() => model.forward(x))).data()) as Float32Array;
  model.train();
  const opt = new optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const loss = ops.crossEntropy(model.forward(x), tensor(labels.slice(), [4], 'int32'));
  loss.backward();
  opt.step();
  const updated = (await (model.stateDict().get('conv1.weight') as Tensor).data()) as Float32Array;
  return { logits, halfLogits, loss: await loss.item(), updated };
}

async function run(): Promise<Record<string, unknown>> {
  const cpu = await onBackend('cpu');
  let info: unknown;
  try {
    info = await initWebGPU();
  } catch (e) {
    return { adapter: null, reason: (e as Error).message, cpuFallbackLoss: cpu.loss };
  }
  const gpu = await onBackend('webgpu');
  setBackend('cpu');
  return {
    adapter: info,
    logitsErr: maxRel(gpu.logits, cpu.logits),
    halfLogitsErr: maxRel(gpu.halfLogits, cpu.halfLogits),
    lossCpu: cpu.loss,
    lossGpu: gpu.loss,
    updateErr: maxRel(gpu.updated, cpu.updated),
  };
}

report(run);
