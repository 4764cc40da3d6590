import { readSafetensors, writeSafetensors, toFloat32, toInt32, fromFloat32, type RawTensor, type SafetensorsInput } from './safetensors.js';
import { tensor } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';

/** Converts a stored tensor to a fovea tensor: floats become float32, integers int32 (U8 stays uint8). */
export function tensorFromRaw(raw: RawTensor): Tensor {
  switch (raw.dtype) {
    case 'F32': case 'F16': case 'BF16': case 'F64':
      return tensor(toFloat32(raw), raw.shape);
    case 'U8': case 'BOOL':
      return tensor(new Uint8Array(raw.data), raw.shape, 'uint8');
    default:
      return tensor(toInt32(raw), raw.shape, 'int32');
  }
}

/** Reads a safetensors file into tensors by name (weights from PyTorch, timm, torchvision or fovea). */
export async function loadSafetensors(path: string): Promise<{ tensors: Map<string, Tensor>; metadata: Record<string, string> }> {
  const file = await readSafetensors(path);
  const tensors = new Map<string, Tensor>();
  for (const [name, raw] of file.tensors) tensors.set(name, tensorFromRaw(raw));
  return { tensors, metadata: file.metadata };
}

/**
 * Writes tensors as safetensors, atomically. float32 stays F32 (or F16/BF16 on request), float16 F16;
 * int32 is written as I64 as PyTorch stores integer buffers (num_batches_tracked).
 */
export async function saveSafetensors(path: string, tensors: Map<string, Tensor>, opts: { metadata?: Record<string, string>; floatDtype?: 'F32' | 'F16' | 'BF16' } = {}): Promise<void> {
  const out = new Map<string, SafetensorsInput>();
  for (const [name, t] of tensors) {
    const values = await t.data();
    if (t.dtype === 'float32' || t.dtype === 'float64' || t.dtype === 'float16') {
      // float16 tensors read back as their (exactly representable) float32 values.
      const floatDtype = opts.floatDtype ?? (t.dtype === 'float16' ? 'F16' : 'F32');
      out.set(name, fromFloat32(values instanceof Float32Array ? values : Float32Array.from(values), [...t.shape], floatDtype));
    } else if (t.dtype === 'int32') {
      out.set(name, { dtype: 'I64', shape: [...t.shape], data: BigInt64Array.from(values as Int32Array, (v) => BigInt(v)) });
    } else {
      out.set(name, { dtype: 'U8', shape: [...t.shape], data: values });
    }
  }
  await writeSafetensors(path, out, opts.metadata);
}
