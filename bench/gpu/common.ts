/**
 * Shared by the WebGPU benches (webgpu-gemm.ts, webgpu-models.ts, webgpu-fmnist.ts): timing with a
 * warm-up by time, a GPU clock warm-up, JSON output, and the parts of a torch peer's output.
 *
 * An H100 idles at 345 MHz and needs 250-350 ms of work to reach its boost clock, so a warm-up
 * is measured in time (>= 0.5 s of back-to-back work by default), never in a count of steps.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { matmul, ops, randn, tidy } from '../../src/index.js';

export interface Timing {
  /** Median seconds of the timed runs. */
  median: number;
  /** Fastest timed run, seconds. */
  min: number;
  /** Every timed run, seconds, in order. */
  runs: number[];
  /** Untimed runs before them (the first one compiles the shaders). */
  warmupRuns: number;
  /** Seconds spent in warm-up after the first run. */
  warmupSeconds: number;
}

export interface TimingOptions {
  /** Timed runs (at most). */
  steps: number;
  /** Warm-up after the first (compiling) run, milliseconds; at least one more run. */
  warmupMs: number;
  /** Stop timing once this much time has passed (at least `minSteps` runs), milliseconds. */
  maxMs?: number;
  minSteps?: number;
}

/**
 * Runs `run` once (shader compilation, allocation), then back to back for `warmupMs` of work,
 * then up to `steps` timed runs. Each run must end with its GPU work finished (a readback).
 */
export async function timeRuns(run: () => Promise<void>, o: TimingOptions): Promise<Timing> {
  await run();
  let warmupRuns = 1;
  const w0 = performance.now();
  do {
    await run();
    warmupRuns++;
  } while (performance.now() - w0 < o.warmupMs);
  const warmupSeconds = (performance.now() - w0) / 1000;
  const runs: number[] = [];
  const t0 = performance.now();
  const minSteps = Math.min(o.minSteps ?? 3, o.steps);
  while (runs.length < o.steps) {
    const t = performance.now();
    await run();
    runs.push((performance.now() - t) / 1000);
    if (o.maxMs !== undefined && runs.length >= minSteps && performance.now() - t0 > o.maxMs) break;
  }
  const sorted = [...runs].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], min: sorted[0], runs, warmupRuns, warmupSeconds };
}

/**
 * Keeps the GPU busy for `ms` milliseconds with 1024^3 products (one readback per 8), so that
 * its clock is up before something is timed that has no warm-up of its own.
 */
export async function warmGpuClock(ms: number): Promise<void> {
  const a = randn([1024, 1024], { std: 1 / 32 }); // keeps the chained products O(1)
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    const last = tidy(() => {
      let c = matmul(a, a);
      for (let i = 0; i < 7; i++) c = matmul(c, a);
      return ops.slice(c, [0, 0], [1, 1]);
    });
    await last.data();
    last.dispose();
  }
  a.dispose();
}

export function writeJson(file: string | undefined, value: unknown): void {
  if (!file) return;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** `| a | b | c |` -> ['a', 'b', 'c'] */
export function cells(row: string): string[] {
  return row.split('|').slice(1, -1).map((c) => c.trim());
}

/**
 * How exact the timestamp queries are: Dawn rounds them to 65,536 ns unless its
 * timestamp_quantization toggle is off, which src/backends/webgpu/device.ts asks for in Node.
 */
export function timestampNote(): string {
  return "exact (Dawn's timestamp_quantization disabled by fovea's device setup)";
}

/** The error's message, for a table note. */
export function message(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}
