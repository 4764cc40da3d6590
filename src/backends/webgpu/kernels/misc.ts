/** oneHot and dropoutMask. */
import { allocTyped, type DType } from '../../../tensor/dtype.js';
import { Rng } from '../../../tensor/rng.js';
import { FLAT_INDEX, MAIN_1D, grid1d, wgslType } from '../program.js';
import { gpuKernel, sizeOf, storageOf } from './util.js';

// Labels outside [0, numClasses) give an all-`off` row here: a GPU kernel cannot throw as the cpu one does.
gpuKernel('oneHot', (b, [labels], attrs) => {
  const numClasses = attrs.numClasses as number;
  const dtype = attrs.dtype as DType;
  const t = wgslType(dtype, 'oneHot');
  const out = b.output([...labels.shape, numClasses], dtype);
  const n = sizeOf(labels.shape) * numClasses;
  // uint8 labels (as IDX files hold them) are stored four to a word.
  const bytes = labels.dtype === 'uint8';
  const label = bytes ? 'i32((L[row / 4u] >> (8u * (row % 4u))) & 255u)' : 'i32(L[row])';
  b.run(
    {
      name: bytes ? 'oneHot_u8' : 'oneHot',
      inputs: [['L', bytes ? 'u32' : wgslType(labels.dtype, 'oneHot')]],
      outputs: [['Y', t]],
      uniforms: [['n', 'u32', n], ['classes', 'u32', numClasses], ['on', 'f32', attrs.on as number], ['off', 'f32', attrs.off as number]],
      code: `${FLAT_INDEX}\n${MAIN_1D} {
  let i = flatIndex(gid, nwg);
  if (i >= P.n) { return; }
  let row = i / P.classes;
  let hit = ${label} == i32(i % P.classes);
  Y[i] = ${t}(select(P.off, P.on, hit));
}`,
      workgroups: grid1d(n),
    },
    [storageOf(labels)],
    [out.storage],
  );
  return [out];
});

/**
 * The mask is drawn on the host with the cpu kernel's generator and uploaded, so that a seed
 * gives the same mask on every backend (training runs stay comparable across backends).
 */
gpuKernel('dropoutMask', (b, _inputs, attrs) => {
  const shape = attrs.shape as number[];
  const p = attrs.p as number;
  const dtype = attrs.dtype as DType;
  wgslType(dtype, 'dropoutMask');
  const rng = new Rng(attrs.seed as number);
  const values = allocTyped(dtype, sizeOf(shape));
  const scale = 1 / (1 - p);
  for (let i = 0; i < values.length; i++) values[i] = rng.next() >= p ? scale : 0;
  return [{ storage: b.upload(values), shape: [...shape], dtype }];
});
