/**
 * Per-kernel GPU time from timestamp queries: every dispatch runs in its own compute pass, so a
 * pass's begin/end timestamps are that kernel's GPU time. Collected while a profile is open
 * (WebGPUBackend.startProfile / stopProfile, or profileWebGPU in index.ts), summed per program.
 */
import { BufferUsage } from './buffer-pool.js';

/** GPU time of one kernel (program name) over the profiled region. */
export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
}

/** A profile: GPU time per kernel, slowest first, and the dispatches past the query capacity (not timed). */
export interface KernelProfile {
  kernels: KernelTime[];
  untimedDispatches: number;
}

const QUERY_RESOLVE = 0x200; // GPUBufferUsage.QUERY_RESOLVE

export class KernelProfiler {
  private readonly querySet: GPUQuerySet;
  private readonly names: string[] = [];
  private untimed = 0;
  private readonly capacity: number;

  /** Times up to half the device's query-set size of dispatches (two timestamps each; 2048 under Dawn). */
  constructor(private readonly device: GPUDevice) {
    this.capacity = 2048;
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * this.capacity });
  }

  /** The timestampWrites of the next dispatch's pass, or undefined once the capacity is used. */
  next(kernel: string): GPUComputePassTimestampWrites | undefined {
    const i = this.names.length;
    if (i >= this.capacity) {
      this.untimed++;
      return undefined;
    }
    this.names.push(kernel);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** Resolves the queries (after the profiled commands were submitted) and sums them per kernel, slowest first. */
  async read(encoder: GPUCommandEncoder, submit: (e: GPUCommandEncoder) => void): Promise<KernelProfile> {
    const n = this.names.length;
    if (n === 0) {
      this.querySet.destroy();
      return { kernels: [], untimedDispatches: this.untimed };
    }
    const bytes = 16 * n;
    const resolved = this.device.createBuffer({ size: bytes, usage: QUERY_RESOLVE | BufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    submit(encoder);
    await staging.mapAsync(1 /* GPUMapMode.READ */);
    const stamps = new BigInt64Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    resolved.destroy();
    this.querySet.destroy();
    const totals = new Map<string, { calls: number; ns: number }>();
    for (let i = 0; i < n; i++) {
      const ns = Number(stamps[2 * i + 1] - stamps[2 * i]);
      const t = totals.get(this.names[i]) ?? { calls: 0, ns: 0 };
      t.calls++;
      t.ns += Math.max(0, ns);
      totals.set(this.names[i], t);
    }
    const kernels = [...totals].map(([kernel, t]) => ({ kernel, calls: t.calls, ms: t.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
    return { kernels, untimedDispatches: this.untimed };
  }
}
