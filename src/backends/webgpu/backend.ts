/// <reference types="@webgpu/types" />
import type { Backend, KernelOutput, Storage } from '../backend.js';
import { BYTES_PER_ELEMENT, allocTyped, type DType, type TypedArray } from '../../tensor/dtype.js';
import { BufferPool, BufferUsage } from './buffer-pool.js';
import { BindGroups, UNIFORM_ARENA_USAGE, type ProgramLayout } from './bind-groups.js';
import { KernelProfiler, type KernelProfile } from './profiler.js';
import { packUniforms, programHead, programSource, uniformBytes, type Program } from './program.js';
import type { WebGPUContext } from './device.js';
import { envVar } from '../../platform.js';

/** GPU storage: a pooled buffer (possibly larger than the tensor) and the tensor's own byte length. */
export class WebGPUStorage implements Storage {
  readonly backend = 'webgpu';
  refCount = 0;
  constructor(
    readonly buffer: GPUBuffer,
    readonly byteLength: number,
  ) {}
}

/** The pipeline cache: a trie over Program.shared, then the rest of the source. */
interface PipelineNode {
  shared: Map<string, PipelineNode>;
  programs: Map<string, CompiledProgram>;
}

/** A compiled program and its explicit layout. */
interface CompiledProgram {
  pipeline: GPUComputePipeline;
  layout: ProgramLayout;
}

/** FOVEA_WEBGPU_CHECK_KEYS=1: every keyed program's source is built and checked against its key (tests). */
const CHECK_KEYS = envVar('FOVEA_WEBGPU_CHECK_KEYS') === '1';

/** Dispatches recorded before the encoder is submitted: bounds the latency of a long forward pass. */
const MAX_PENDING_DISPATCHES = 128;
/**
 * Bytes of the uniform arena: the Params of every dispatch recorded since the last submit, each
 * at an offset aligned to minUniformBufferOffsetAlignment, written with one writeBuffer per submit
 * (a buffer per dispatch costs more than the dispatch itself on a fast GPU).
 */
const UNIFORM_ARENA_BYTES = 64 * 1024;

/**
 * Dawn for Node does not keep the event loop alive while a GPU promise is pending: without a
 * timer, a script awaiting only a readback would exit before it resolves.
 */
function keepProcessAlive(): ReturnType<typeof setInterval> {
  return setInterval(() => {}, 1000);
}

const roundUp4 = (n: number): number => Math.ceil(n / 4) * 4;

/**
 * The WebGPU backend: tensors live in GPU buffers, kernels are WGSL compute programs recorded
 * into one command encoder and submitted in batches. Reading back is asynchronous only.
 */
export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly hostResident = false;
  readonly device: GPUDevice;
  private readonly pool: BufferPool;
  private readonly pipelines: PipelineNode = { shared: new Map(), programs: new Map() };
  /** Pipelines of programs with a key (Program.key), by name and key. */
  private readonly keyedPipelines = new Map<string, CompiledProgram>();
  private encoder: GPUCommandEncoder | null = null;
  /** The open compute pass: consecutive dispatches share one (a pass per dispatch costs about twice as much). */
  private pass: GPUComputePassEncoder | null = null;
  private pendingDispatches = 0;
  /** Submits so far: buffers freed since the last one may have unsubmitted users (BufferPool.freedSince). */
  private submits = 0;
  private readonly uniformBuffer: GPUBuffer;
  private readonly bindGroups: BindGroups;
  private readonly uniformData = new Uint8Array(UNIFORM_ARENA_BYTES);
  private readonly uniformView = new DataView(this.uniformData.buffer);
  private uniformBytes = 0;
  private readonly uniformAlign: number;
  private bytes = 0;
  private profiler: KernelProfiler | null = null;

  /** The first GPU error since the last read: reported by the next read, since dispatches do not throw. */
  private deviceError: string | null = null;

  constructor(readonly context: WebGPUContext) {
    this.device = context.device;
    this.uniformBuffer = this.device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: UNIFORM_ARENA_USAGE });
    this.bindGroups = new BindGroups(this.device, this.uniformBuffer);
    this.pool = new BufferPool(this.device, (buffer) => this.bindGroups.forget(buffer));
    this.uniformAlign = this.device.limits.minUniformBufferOffsetAlignment;
    this.device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      const outOfMemory = error.constructor?.name === 'GPUOutOfMemoryError' || /out of memory/i.test(error.message);
      this.deviceError ??= outOfMemory
        ? `out of GPU memory (${(this.bytes / 2 ** 20).toFixed(0)} MiB held by live tensors, ${(this.pool.pooledBytes / 2 ** 20).toFixed(0)} MiB pooled): use a smaller batch, dispose tensors you no longer need (or use tidy), or call releaseCachedMemory(); ${error.message}`
        : error.message;
    });
  }

  upload(values: TypedArray): Storage {
    if (values instanceof Float64Array) {
      throw new Error("the webgpu backend has no float64 (WGSL has no 64-bit floats); create the tensor as float32, or use setBackend('cpu') for float64 work");
    }
    // A buffer no unsubmitted command uses: the queue write then needs no submit first.
    const storage = this.createStorage(values.byteLength, true);
    if (values.byteLength > 0) {
      let bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      if (bytes.byteLength % 4) {
        const padded = new Uint8Array(roundUp4(bytes.byteLength));
        padded.set(bytes);
        bytes = padded;
      }
      this.device.queue.writeBuffer(storage.buffer, 0, bytes);
    }
    return storage;
  }

  /** Zero-filled storage for `size` elements of `dtype`. */
  allocate(dtype: DType, size: number): Storage {
    const storage = this.createStorage(size * BYTES_PER_ELEMENT[dtype]);
    this.commandEncoder().clearBuffer(storage.buffer);
    return storage;
  }

  /**
   * Storage for a kernel output whose every element the kernel writes (no clearing); `forWrite`:
   * for a queue write instead, so a buffer no unsubmitted command still uses.
   */
  createStorage(byteLength: number, forWrite = false): WebGPUStorage {
    const limit = this.device.limits.maxStorageBufferBindingSize;
    if (byteLength > limit) {
      throw new Error(`webgpu: a tensor of ${byteLength} bytes exceeds this device's largest storage buffer (${limit} bytes, maxStorageBufferBindingSize); use a smaller batch or the cpu backend`);
    }
    this.bytes += byteLength;
    const bytes = Math.max(4, roundUp4(byteLength));
    return new WebGPUStorage(forWrite ? this.pool.acquireForWrite(bytes, this.submits) : this.pool.acquire(bytes), byteLength);
  }

  /** A kernel output of `shape`: fresh storage, to be written by the kernel's dispatches. */
  output(shape: readonly number[], dtype: DType): KernelOutput & { storage: WebGPUStorage } {
    const size = shape.reduce((a, b) => a * b, 1);
    return { storage: this.createStorage(size * BYTES_PER_ELEMENT[dtype]), shape: [...shape], dtype };
  }

  async read(storage: Storage, dtype: DType, size: number): Promise<TypedArray> {
    const s = storage as WebGPUStorage;
    const bytes = size * BYTES_PER_ELEMENT[dtype];
    const out = allocTyped(dtype, size);
    if (bytes === 0) return out;
    const staging = this.device.createBuffer({ size: roundUp4(bytes), usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    this.commandEncoder().copyBufferToBuffer(s.buffer, 0, staging, 0, roundUp4(bytes));
    this.flush();
    const keepAlive = keepProcessAlive();
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */);
      new Uint8Array(out.buffer, out.byteOffset, bytes).set(new Uint8Array(staging.getMappedRange(0, roundUp4(bytes)), 0, bytes));
      staging.unmap();
    } finally {
      clearInterval(keepAlive);
      staging.destroy();
    }
    this.throwDeviceError();
    return out;
  }

  /** Throws (once) the GPU error recorded since the last read, if any. */
  private throwDeviceError(): void {
    const message = this.deviceError;
    if (message === null) return;
    this.deviceError = null;
    throw new Error(`webgpu: a kernel failed on the GPU, so values computed since the previous read are not valid: ${message}`);
  }

  readSync(): TypedArray {
    throw new Error("the webgpu backend cannot read values synchronously (GPU memory is mapped asynchronously); use 'await t.data()' (or 'await t.item()') instead of dataSync()/itemSync()");
  }

  free(storage: Storage): void {
    const s = storage as WebGPUStorage;
    this.bytes -= s.byteLength;
    this.pool.release(s.buffer, this.submits);
  }

  bytesInUse(): number {
    return this.bytes;
  }

  /** Records one dispatch of `program` reading `inputs` and writing `outputs`. */
  run(program: Program, inputs: readonly WebGPUStorage[], outputs: readonly WebGPUStorage[]): void {
    if (program.inputs.length !== inputs.length || program.outputs.length !== outputs.length) {
      throw new Error(`internal: program '${program.name}' declares ${program.inputs.length} inputs and ${program.outputs.length} outputs, got ${inputs.length} and ${outputs.length}`);
    }
    if (program.workgroups.some((n) => n === 0)) return;
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (program.workgroups.some((n) => n > maxGroups)) {
      throw new Error(`webgpu: '${program.name}' needs [${program.workgroups.join(', ')}] workgroups, more than this device's ${maxGroups} per dimension; use a smaller batch or the cpu backend`);
    }
    const { pipeline, layout } = this.pipeline(program);
    let uniformOffset = -1;
    let uniformSize = 0;
    if (program.uniforms?.length) {
      const size = uniformBytes(program.uniforms);
      let offset = Math.ceil(this.uniformBytes / this.uniformAlign) * this.uniformAlign;
      if (offset + size > UNIFORM_ARENA_BYTES) {
        this.flush();
        offset = 0;
      }
      packUniforms(program.uniforms, this.uniformView, offset);
      this.uniformBytes = offset + size;
      uniformOffset = offset;
      uniformSize = size;
    }
    const bindGroup = this.bindGroups.get(layout, [...inputs, ...outputs].map((s) => s.buffer), uniformSize);
    const timestampWrites = this.profiler?.next(program.name);
    const pass = timestampWrites ? this.endPass().beginComputePass({ timestampWrites }) : this.computePass();
    pass.setPipeline(pipeline);
    if (uniformOffset >= 0) pass.setBindGroup(0, bindGroup, [uniformOffset]);
    else pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = program.workgroups;
    pass.dispatchWorkgroups(x, y, z);
    if (timestampWrites) pass.end();
    if (++this.pendingDispatches >= MAX_PENDING_DISPATCHES) this.flush();
  }

  /** Submits the recorded commands. */
  flush(): void {
    if (!this.encoder) return;
    const encoder = this.endPass();
    // Queue writes run before the submit that follows them: this submit's dispatches see their Params.
    if (this.uniformBytes) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformData, 0, Math.ceil(this.uniformBytes / 4) * 4);
    this.device.queue.submit([encoder.finish()]);
    this.submits++;
    this.encoder = null;
    this.pendingDispatches = 0;
    this.uniformBytes = 0;
  }

  /** Waits until the GPU has finished every submitted command (for timing and tests). */
  async sync(): Promise<void> {
    this.flush();
    const keepAlive = keepProcessAlive();
    try {
      await this.device.queue.onSubmittedWorkDone();
    } finally {
      clearInterval(keepAlive);
    }
    this.throwDeviceError();
  }

  /**
   * Starts timing every dispatch on the GPU (timestamp queries; the adapter must offer
   * 'timestamp-query'). stopProfile() returns the time per kernel.
   */
  startProfile(): void {
    if (!this.context.features.timestampQuery) throw new Error("webgpu: this adapter has no 'timestamp-query' feature, so kernels cannot be timed on the GPU");
    this.flush();
    this.profiler = new KernelProfiler(this.device);
  }

  /** Ends the profile started by startProfile(): GPU milliseconds per kernel, slowest first. */
  async stopProfile(): Promise<KernelProfile> {
    const profiler = this.profiler;
    if (!profiler) throw new Error('webgpu: stopProfile() without startProfile()');
    this.profiler = null;
    this.flush();
    const times = await profiler.read(this.device.createCommandEncoder(), (e) => this.device.queue.submit([e.finish()]));
    this.throwDeviceError();
    return times;
  }

  /** Bind-group cache lookups and misses so far (for tests and tuning). */
  bindGroupStats(): { lookups: number; misses: number } {
    return { ...this.bindGroups.stats };
  }

  /** Frees the pooled (unused) buffers. */
  releaseCachedMemory(): void {
    this.pool.clear();
    this.bindGroups.clear();
  }

  /** The encoder with no compute pass open, for copies and clears. */
  private commandEncoder(): GPUCommandEncoder {
    return this.endPass();
  }

  private endPass(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return (this.encoder ??= this.device.createCommandEncoder());
  }

  private computePass(): GPUComputePassEncoder {
    return (this.pass ??= this.endPass().beginComputePass());
  }

  private pipeline(program: Program): CompiledProgram {
    if (program.key === undefined) return this.pipelineFromSource(program);
    const id = `${program.name}\n${program.key}`;
    const known = this.keyedPipelines.get(id);
    if (known && !CHECK_KEYS) return known;
    const compiled = this.pipelineFromSource(program);
    if (known && known !== compiled) throw new Error(`internal: webgpu program key '${program.name}' / '${program.key}' names two different WGSL sources`);
    this.keyedPipelines.set(id, compiled);
    return compiled;
  }

  /** The pipeline for a program's full source, compiled on first use. */
  private pipelineFromSource(program: Program): CompiledProgram {
    // The shared blocks are walked by identity (their hashes are cached in the string objects),
    // then the rest of the source is looked up: long constant WGSL is not hashed per dispatch.
    let node = this.pipelines;
    for (const piece of program.shared ?? []) {
      let next = node.shared.get(piece);
      if (!next) node.shared.set(piece, (next = { shared: new Map(), programs: new Map() }));
      node = next;
    }
    const head = programHead(program);
    let compiled = node.programs.get(head);
    if (!compiled) {
      const module = this.device.createShaderModule({ label: program.name, code: programSource(program) });
      const layout = this.bindGroups.layout(program.inputs.length, program.outputs.length, !!program.uniforms?.length);
      const pipeline = this.device.createComputePipeline({ label: program.name, layout: layout.pipelineLayout, compute: { module, entryPoint: 'main' } });
      compiled = { pipeline, layout };
      node.programs.set(head, compiled);
    }
    return compiled;
  }
}
