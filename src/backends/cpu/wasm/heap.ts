/**
 * Tensor storage inside the kernels' shared WebAssembly memory. CPU tensors whose arrays live
 * here are read by the WebAssembly kernels in place (no copy in) and kernel outputs are
 * written straight into them (no copy out); JavaScript sees ordinary typed-array views.
 *
 * Layout: [control block | arena (per-call scratch, ARENA_BYTES) | heap blocks ...]. Blocks
 * come in power-of-two size classes with one free list per class (a freed block serves the
 * next request of its class: the same shapes recur every step); new blocks are cut from the
 * top, growing the memory. Only shared memory (which never detaches old views when it grows)
 * hosts the heap; when the 4 GiB address space is exhausted, `alloc` returns -1 and the caller
 * falls back to a JavaScript array.
 */
const MIN_CLASS_BYTES = 1 << 12;

export class WasmHeap {
  private top: number;
  private readonly free = new Map<number, number[]>();
  /** Every buffer object the memory has had (one per growth): views made from any of them are ours. */
  private readonly buffers = new Set<ArrayBufferLike>();
  private bytesHeld = 0;

  constructor(private readonly memory: WebAssembly.Memory, readonly start: number) {
    this.top = start;
    this.buffers.add(memory.buffer);
  }

  static classBytes(bytes: number): number {
    return Math.max(MIN_CLASS_BYTES, 2 ** Math.ceil(Math.log2(bytes)));
  }

  /** The address of a block of at least `bytes` (64-byte aligned), or -1 when memory is exhausted. */
  alloc(bytes: number): number {
    const size = WasmHeap.classBytes(bytes);
    const reused = this.free.get(size)?.pop();
    if (reused !== undefined) {
      this.bytesHeld += size;
      return reused;
    }
    const address = this.top;
    const end = address + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      try {
        this.memory.grow(Math.ceil((end - have) / 65536));
      } catch {
        return -1;
      }
      this.buffers.add(this.memory.buffer);
    }
    this.top = end;
    this.bytesHeld += size;
    return address;
  }

  /** Returns the block at `address` that was allocated for `bytes`. */
  release(address: number, bytes: number): void {
    const size = WasmHeap.classBytes(bytes);
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(address);
    this.bytesHeld -= size;
  }

  /** A Float32Array / Int32Array view of `length` elements at `address`. */
  view(kind: 'float32' | 'int32', address: number, length: number): Float32Array | Int32Array {
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    return kind === 'float32' ? new Float32Array(buffer, address, length) : new Int32Array(buffer, address, length);
  }

  /** Whether `values` is a view of this memory (its byteOffset is then its address). */
  owns(values: ArrayBufferView): boolean {
    return this.buffers.has(values.buffer);
  }

  /** Whether `values` is a whole heap block's view (as `view` made it), i.e. one to release. */
  isBlock(values: ArrayBufferView): boolean {
    return this.owns(values) && values.byteOffset >= this.start;
  }

  get bytesInUse(): number {
    return this.bytesHeld;
  }
}
