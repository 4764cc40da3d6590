/**
 * Finding fovea's own files at run time in Node (the wasm kernels, the image decoders' wasm, the
 * zoo table) wherever fovea runs from: its sources, the installed package, or a bundle (ESM, or
 * CommonJS, where import.meta.url is empty). Node built-ins are reached through nodeBuiltin, so
 * browsers can load this module; these functions are meant for Node only.
 */
import { nodeBuiltin } from './platform.js';

type NodeFs = { existsSync(path: string): boolean; readFileSync(path: string): Uint8Array };
type NodePath = { join(...parts: string[]): string; dirname(path: string): string };
type NodeUrl = { fileURLToPath(url: URL | string): string };
type NodeModule = { createRequire(from: string): { resolve(id: string): string } };

const fs = (): NodeFs => nodeBuiltin<NodeFs>('node:fs')!;
const path = (): NodePath => nodeBuiltin<NodePath>('node:path')!;

/**
 * The calling module's file, given its `import.meta.url`; once bundled, the bundle's. A CommonJS
 * bundle has an empty import.meta (esbuild makes it `{}`) but has __filename. Null where neither
 * says.
 */
export function moduleFile(importMetaUrl: string | undefined): string | null {
  let url: URL | null = null;
  try {
    url = new URL(importMetaUrl ?? '');
  } catch {
    // empty import.meta.url
  }
  if (url?.protocol === 'file:') return nodeBuiltin<NodeUrl>('node:url')!.fileURLToPath(url);
  return typeof __filename === 'string' ? __filename : null;
}

/** `id` as Node resolves it from the file `from`, or null where it is not installed there or above. */
export function resolveFrom(from: string, id: string): string | null {
  try {
    return nodeBuiltin<NodeModule>('node:module')!.createRequire(from).resolve(id);
  } catch {
    return null;
  }
}

/** The root folder of the `fovea` package that Node resolves from the file `from`, or null. */
export function installedFovea(from: string): string | null {
  const entry = resolveFrom(from, 'fovea');
  if (!entry) return null;
  const p = path();
  for (let dir = p.dirname(entry), up = 0; up < 4; up++, dir = p.dirname(dir)) {
    const pkg = p.join(dir, 'package.json');
    if (!fs().existsSync(pkg)) continue;
    try {
      return (JSON.parse(new TextDecoder().decode(fs().readFileSync(pkg))) as { name?: string }).name === 'fovea' ? dir : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** The calling module's file (moduleFile), then a file in the working directory: where to resolve packages from. */
export function resolutionBases(own: string | null): [file: string, label: string][] {
  const cwd = (globalThis as { process?: { cwd(): string } }).process!.cwd();
  const bases: [string, string][] = [[path().join(cwd, 'noop.js'), `the working directory ${cwd}`]];
  if (own) bases.unshift([own, path().dirname(own)]);
  return bases;
}

/** One place looked at: a file and how it came up, or (path null) a resolution that found nothing, and why. */
export interface Candidate {
  path: string | null;
  where: string;
}

/** An ordered list of candidate files without repeats. */
export class SearchList {
  readonly candidates: Candidate[] = [];

  add(file: string | null, where: string): void {
    if (file === null || !this.candidates.some((c) => c.path === file)) this.candidates.push({ path: file, where });
  }

  /** The first candidate that exists, or undefined. */
  find(): string | undefined {
    return this.candidates.find((c) => c.path !== null && fs().existsSync(c.path))?.path ?? undefined;
  }

  /** Every place, one per line, for an error message. */
  describe(): string {
    return this.candidates.map((c) => `\n  ${c.path === null ? c.where : `${c.path} (${c.where})`}`).join('');
  }
}
