/// <reference types="@webgpu/types" />
/**
 * Explicit bind-group layouts and a cache of bind groups. Creating a bind group costs more than
 * recording the dispatch that uses it (about 40 µs through Dawn's Node binding on a 2-core VM,
 * against a few µs for the dispatch), and a training or inference loop binds the same pooled
 * buffers to the same programs step after step. So every program's layout is explicit (read-only
 * storage arrays, then read-write ones, then the Params uniform with a dynamic offset into the
 * uniform arena), and bind groups are cached by layout, buffers and Params size; a buffer's
 * entries are dropped when it is destroyed.
 */
import { BufferUsage } from './buffer-pool.js';

const COMPUTE = 0x4; // GPUShaderStage.COMPUTE
/** Cached bind groups beyond this are all dropped (a loop reuses far fewer). */
const MAX_CACHED_GROUPS = 16384;

export interface ProgramLayout {
  id: number;
  bindGroupLayout: GPUBindGroupLayout;
  pipelineLayout: GPUPipelineLayout;
}

export class BindGroups {
  private readonly layouts = new Map<string, ProgramLayout>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly keysByBuffer = new Map<number, string[]>();
  /** Lookups and the misses among them (a loop in steady state should miss none). */
  readonly stats = { lookups: 0, misses: 0 };

  constructor(
    private readonly device: GPUDevice,
    private readonly uniformBuffer: GPUBuffer,
  ) {}

  /** The layout of a program with `reads` read-only and `writes` read-write storage arrays, and Params if `uniform`. */
  layout(reads: number, writes: number, uniform: boolean): ProgramLayout {
    const key = `${reads}/${writes}/${uniform ? 1 : 0}`;
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (let i = 0; i < reads + writes; i++) entries.push({ binding: i, visibility: COMPUTE, buffer: { type: i < reads ? 'read-only-storage' : 'storage' } });
      if (uniform) entries.push({ binding: reads + writes, visibility: COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } });
      const bindGroupLayout = this.device.createBindGroupLayout({ label: `fovea ${key}`, entries });
      layout = { id: this.layouts.size + 1, bindGroupLayout, pipelineLayout: this.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] }) };
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** A bind group of `buffers` (in binding order) and, if `uniformSize` > 0, the uniform arena (offset given at setBindGroup). */
  get(layout: ProgramLayout, buffers: readonly GPUBuffer[], uniformSize: number): GPUBindGroup {
    const ids = buffers.map((b) => this.idOf(b));
    const key = `${layout.id}:${ids.join(',')}:${uniformSize}`;
    let group = this.groups.get(key);
    this.stats.lookups++;
    if (!group) {
      this.stats.misses++;
      if (this.groups.size >= MAX_CACHED_GROUPS) this.clear();
      const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
      if (uniformSize) entries.push({ binding: buffers.length, resource: { buffer: this.uniformBuffer, offset: 0, size: uniformSize } });
      group = this.device.createBindGroup({ layout: layout.bindGroupLayout, entries });
      this.groups.set(key, group);
      for (const id of new Set(ids)) {
        let keys = this.keysByBuffer.get(id);
        if (!keys) this.keysByBuffer.set(id, (keys = []));
        keys.push(key);
      }
    }
    return group;
  }

  /** Drops the bind groups that use `buffer` (call before destroying it). */
  forget(buffer: GPUBuffer): void {
    const id = this.bufferIds.get(buffer);
    if (id === undefined) return;
    for (const key of this.keysByBuffer.get(id) ?? []) this.groups.delete(key);
    this.keysByBuffer.delete(id);
  }

  clear(): void {
    this.groups.clear();
    this.keysByBuffer.clear();
  }

  private idOf(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++));
    return id;
  }
}

/** Usage of the uniform arena. */
export const UNIFORM_ARENA_USAGE = BufferUsage.UNIFORM | BufferUsage.COPY_DST;
