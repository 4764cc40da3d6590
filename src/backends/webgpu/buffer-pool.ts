/// <reference types="@webgpu/types" />
/**
 * Reuses GPU buffers by size bucket: creating and destroying a buffer per kernel output costs
 * far more than handing back one of the same bucket. Buckets are four per power of two, so a
 * buffer wastes at most a quarter of its size.
 */

/** GPUBufferUsage bits as numbers: the GPUBufferUsage global exists only once Dawn is loaded. */
export const BufferUsage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;

const MIN_BUCKET = 256;
/** Free buffers kept beyond this are destroyed instead of pooled. */
const MAX_POOLED_BYTES = 1 << 30;

export function bucketSize(bytes: number): number {
  if (bytes <= MIN_BUCKET) return MIN_BUCKET;
  const step = 2 ** (Math.floor(Math.log2(bytes)) - 2);
  return Math.ceil(bytes / step) * step;
}

/**
 * Each bucket hands out its oldest free buffer (lowest creation number), so which buffers a
 * sequence of allocations gets depends only on which are free, not on the order they were freed
 * in: a training or inference loop then binds the same buffers to the same kernels every
 * iteration, and its bind groups come from the cache (bind-groups.ts) instead of being rebuilt.
 */
export class BufferPool {
  /** Free buffers per bucket, sorted by creation number, highest first (pop() takes the oldest). */
  private free = new Map<number, GPUBuffer[]>();
  private readonly serials = new WeakMap<GPUBuffer, number>();
  /** The submit count when each pooled buffer was released (see freedSince). */
  private readonly releasedAt = new WeakMap<GPUBuffer, number>();
  private nextSerial = 0;
  private pooled = 0;

  /** `onDestroy` hears of every buffer the pool destroys, just before (bind groups using it must go). */
  constructor(
    private readonly device: GPUDevice,
    private readonly onDestroy: (buffer: GPUBuffer) => void = () => {},
  ) {}

  /** Bytes in free buffers kept for reuse. */
  get pooledBytes(): number {
    return this.pooled;
  }

  /** A storage buffer of at least `bytes` bytes (contents undefined). */
  acquire(bytes: number): GPUBuffer {
    const size = bucketSize(bytes);
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.pooled -= size;
      return reused;
    }
    return this.create(size);
  }

  /**
   * A buffer for a queue write: the oldest free one released before submit number `submits`
   * (no unsubmitted command can still use it, so the write needs no submit first), else a new one.
   */
  acquireForWrite(bytes: number, submits: number): GPUBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        if (!this.freedSince(list[i], submits)) {
          this.pooled -= size;
          return list.splice(i, 1)[0];
        }
      }
    }
    return this.create(size);
  }

  private create(size: number): GPUBuffer {
    const buffer = this.device.createBuffer({ size, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST });
    this.serials.set(buffer, this.nextSerial++);
    return buffer;
  }

  /**
   * Whether `buffer` was released after submit number `submits`: commands recorded since then,
   * not yet submitted, may still use it, so a queue write into it must wait for their submit.
   * A buffer created fresh, or released before the last submit, has no unsubmitted users.
   */
  freedSince(buffer: GPUBuffer, submits: number): boolean {
    return (this.releasedAt.get(buffer) ?? -1) >= submits;
  }

  /** Returns a buffer to its bucket; `submits` is the backend's submit count now (see freedSince). */
  release(buffer: GPUBuffer, submits = Infinity): void {
    const size = buffer.size;
    this.releasedAt.set(buffer, submits);
    if (this.pooled + size > MAX_POOLED_BYTES) {
      this.onDestroy(buffer);
      buffer.destroy();
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    // Insert keeping the order (usually at the end: loops free what they allocated last first).
    const serial = this.serials.get(buffer) ?? Infinity;
    let at = list.length;
    while (at > 0 && (this.serials.get(list[at - 1]) ?? Infinity) < serial) at--;
    list.splice(at, 0, buffer);
    this.pooled += size;
  }

  /** Destroys every pooled buffer (the memory goes back to the driver). */
  clear(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.onDestroy(b);
        b.destroy();
      }
    }
    this.free.clear();
    this.pooled = 0;
  }
}
