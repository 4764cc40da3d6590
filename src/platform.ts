/**
 * What the JavaScript runtime offers, so that one code base runs in Node and in browsers:
 * Node's built-in modules are reached through process.getBuiltinModule (no static `node:`
 * import, which browser bundlers reject), and browser APIs are used where Node has none.
 */
type NodeProcess = { versions?: { node?: string }; getBuiltinModule?: (id: string) => unknown; env?: Record<string, string | undefined> };

const nodeProcess = (globalThis as { process?: NodeProcess }).process;

/** True under Node.js (or a runtime that presents itself as Node, such as Bun or Deno's compat). */
export const isNode = typeof nodeProcess?.versions?.node === 'string';

/** A Node built-in module by name ('node:fs'), or null outside Node. */
export function nodeBuiltin<T>(id: string): T | null {
  if (!isNode) return null;
  const get = nodeProcess?.getBuiltinModule;
  if (!get) throw new Error(`fovea needs Node >= 20.16 (process.getBuiltinModule) to load '${id}'; this is Node ${nodeProcess?.versions?.node}`);
  return get(id) as T;
}

/** An environment variable under Node, undefined elsewhere. */
export function envVar(name: string): string | undefined {
  return nodeProcess?.env?.[name];
}

/** Logical processors: os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers. */
export function hardwareThreads(): number {
  const os = nodeBuiltin<{ availableParallelism?: () => number; cpus: () => unknown[] }>('node:os');
  if (os) return os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return nav?.hardwareConcurrency ?? 1;
}

/**
 * Whether this runtime can share memory between threads: always in Node; in browsers only on
 * cross-origin-isolated pages (COOP/COEP headers), where SharedArrayBuffer exists.
 */
export function canShareMemory(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isNode || isolated !== false;
}

/** A Node built-in module that an API needs; in browsers, an error naming the API and the alternative. */
export function requireNode<T>(id: string, api: string, alternative: string): T {
  const mod = nodeBuiltin<T>(id);
  if (!mod) throw new Error(`${api} works with files in Node only; ${alternative}`);
  return mod;
}
