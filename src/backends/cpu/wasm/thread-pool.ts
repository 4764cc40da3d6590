import type { WasmKernels } from './module.js';
import { nodeBuiltin } from '../../../platform.js';

/**
 * A pool of worker threads that run WebAssembly kernel tasks over the kernels' shared memory.
 * `run(tasks)` is synchronous, like the kernels: the calling thread posts the tasks into a
 * control block in shared memory, wakes the workers (Atomics.notify), takes tasks itself, and
 * sleeps on Atomics.wait until every task is done. Idle workers sleep on Atomics.wait too
 * (no spinning between jobs). Tasks are claimed with compare-and-swap, so a worker that wakes
 * late can never take a task of a job that is still being written.
 */

/** Byte range of the control block inside the shared memory (below the arena). */
export const CONTROL_OFFSET = 1024;
export const CONTROL_BYTES = 64 * 1024;

const GEN = 0; // job generation: workers wait on it
const COUNT = 1; // tasks in the current job (0 while a job is being written)
const NEXT = 2; // next unclaimed task
const COMPLETED = 3; // finished tasks: the caller waits on it
const ACTIVE = 4; // workers inside the task loop
const STOP = 5;
const HEADER_INTS = 16;
const TASK_SLOTS = 16; // f64 slots per task: [function id, argc, args...]
export const MAX_TASK_ARGS = TASK_SLOTS - 2;
const TASKS_OFFSET = CONTROL_OFFSET + HEADER_INTS * 4;
export const MAX_TASKS = Math.floor((CONTROL_BYTES - HEADER_INTS * 4) / (TASK_SLOTS * 8));

/**
 * The worker: instantiates the module over the shared memory and serves jobs forever. The same
 * source runs as a Node worker_thread (data in workerData) and as a browser Web Worker (data in
 * the first message).
 */
const WORKER_SOURCE = `
function serve({ module, memory, controlOffset, tasksOffset, slots, names }, ready) {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const fns = names.map((n) => instance.exports[n]);
  const ctrl = new Int32Array(memory.buffer, controlOffset, 16);
  let seen = Atomics.load(ctrl, ${GEN});
  ready();
  for (;;) {
    Atomics.wait(ctrl, ${GEN}, seen);
    seen = Atomics.load(ctrl, ${GEN});
    if (Atomics.load(ctrl, ${STOP})) break;
    Atomics.add(ctrl, ${ACTIVE}, 1);
    for (;;) {
      const count = Atomics.load(ctrl, ${COUNT});
      const i = Atomics.load(ctrl, ${NEXT});
      if (i >= count) break;
      if (Atomics.compareExchange(ctrl, ${NEXT}, i, i + 1) !== i) continue;
      const t = new Float64Array(memory.buffer, tasksOffset + i * slots * 8, slots);
      const argc = t[1];
      fns[t[0]](...Array.prototype.slice.call(t, 2, 2 + argc));
      if (Atomics.add(ctrl, ${COMPLETED}, 1) + 1 === count) Atomics.notify(ctrl, ${COMPLETED});
    }
    Atomics.sub(ctrl, ${ACTIVE}, 1);
  }
}
if (typeof require === 'function') {
  const { parentPort, workerData } = require('node:worker_threads');
  serve(workerData, () => parentPort.postMessage('ready'));
} else {
  self.onmessage = (e) => serve(e.data, () => self.postMessage('ready'));
}
`;

/** Whether this thread may block in Atomics.wait (browsers forbid it on the main thread). */
function canBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

interface PoolWorker {
  ready: Promise<void>;
  terminate(): Promise<unknown>;
}

async function spawnWorker(data: Record<string, unknown>): Promise<PoolWorker> {
  const nodeThreads = nodeBuiltin<typeof import('node:worker_threads')>('node:worker_threads');
  if (nodeThreads) {
    const w = new nodeThreads.Worker(WORKER_SOURCE, { eval: true, workerData: data });
    w.unref();
    const ready = new Promise<void>((resolve, reject) => {
      w.once('message', () => resolve());
      w.once('error', reject);
    });
    return { ready, terminate: () => w.terminate() };
  }
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
  const w = new Worker(url);
  const ready = new Promise<void>((resolve, reject) => {
    w.onmessage = () => resolve();
    w.onerror = (e) => reject(new Error(`kernel worker failed to start: ${e.message}`));
  });
  w.postMessage(data);
  return { ready, terminate: async () => w.terminate() };
}

export interface Task {
  fn: string;
  args: number[];
}


export class ThreadPool {
  private readonly ctrl: Int32Array;
  private readonly names: string[];
  private readonly ids = new Map<string, number>();
  private readonly fns: ((...args: number[]) => void)[];
  private workers: PoolWorker[] = [];
  private readonly blocking = canBlock();
  private ready = 0;

  constructor(private readonly kernels: WasmKernels, readonly size: number) {
    this.names = WebAssembly.Module.exports(kernels.module).filter((e) => e.kind === 'function').map((e) => e.name);
    this.names.forEach((n, i) => this.ids.set(n, i));
    this.fns = this.names.map((n) => kernels.exports[n] as (...args: number[]) => void);
    this.ctrl = new Int32Array(kernels.memory.buffer, CONTROL_OFFSET, HEADER_INTS);
  }

  /** Starts size - 1 workers (the calling thread is the last participant). */
  async start(): Promise<void> {
    const data = { module: this.kernels.module, memory: this.kernels.memory, controlOffset: CONTROL_OFFSET, tasksOffset: TASKS_OFFSET, slots: TASK_SLOTS, names: this.names };
    const started = Array.from({ length: this.size - 1 }, async () => {
      const w = await spawnWorker(data);
      this.workers.push(w);
      await w.ready;
      this.ready++;
    });
    await Promise.all(started);
  }

  /** Workers that have started and joined (the pool works with fewer while they start). */
  get threads(): number {
    return this.ready + 1;
  }

  /** Runs every task (any order, any thread) and returns when all are done. */
  run(tasks: readonly Task[]): void {
    if (tasks.length > MAX_TASKS) throw new Error(`ThreadPool.run: ${tasks.length} tasks exceed the limit of ${MAX_TASKS}; use larger tasks`);
    if (this.ready === 0 || tasks.length === 1) {
      for (const t of tasks) this.call(t);
      return;
    }
    const ctrl = this.ctrl;
    // Close the previous job to late wakers, and wait until none is still inside it.
    Atomics.store(ctrl, COUNT, 0);
    while (Atomics.load(ctrl, ACTIVE) !== 0) { /* a worker is leaving the previous job */ }
    const slots = new Float64Array(this.kernels.memory.buffer, TASKS_OFFSET, tasks.length * TASK_SLOTS);
    tasks.forEach((t, i) => {
      const id = this.ids.get(t.fn);
      if (id === undefined) throw new Error(`ThreadPool.run: the kernel module has no function '${t.fn}'`);
      if (t.args.length > MAX_TASK_ARGS) throw new Error(`ThreadPool.run: '${t.fn}' has ${t.args.length} arguments; at most ${MAX_TASK_ARGS} fit a task`);
      slots[i * TASK_SLOTS] = id;
      slots[i * TASK_SLOTS + 1] = t.args.length;
      slots.set(t.args, i * TASK_SLOTS + 2);
    });
    Atomics.store(ctrl, NEXT, 0);
    Atomics.store(ctrl, COMPLETED, 0);
    Atomics.store(ctrl, COUNT, tasks.length);
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
    for (;;) {
      const i = Atomics.load(ctrl, NEXT);
      if (i >= tasks.length) break;
      if (Atomics.compareExchange(ctrl, NEXT, i, i + 1) !== i) continue;
      this.call(tasks[i]);
      Atomics.add(ctrl, COMPLETED, 1);
    }
    for (;;) {
      const done = Atomics.load(ctrl, COMPLETED);
      if (done >= tasks.length) break;
      if (this.blocking) Atomics.wait(ctrl, COMPLETED, done, 1000);
    }
  }

  private call(t: Task): void {
    const fn = this.fns[this.ids.get(t.fn) ?? -1];
    if (!fn) throw new Error(`ThreadPool.run: the kernel module has no function '${t.fn}'`);
    fn(...t.args);
  }

  async stop(): Promise<void> {
    Atomics.store(this.ctrl, STOP, 1);
    Atomics.add(this.ctrl, GEN, 1);
    Atomics.notify(this.ctrl, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
    // A worker terminated inside the task loop never decremented ACTIVE: clear the block so the
    // next pool does not wait for it.
    for (const slot of [STOP, COUNT, NEXT, COMPLETED, ACTIVE]) Atomics.store(this.ctrl, slot, 0);
    this.workers = [];
    this.ready = 0;
  }
}
