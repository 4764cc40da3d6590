/**
 * Crash-safe file writes: the target path always holds either its previous
 * content or the complete new content, never a partially written file.
 *
 * The data goes to a temporary file in the same directory (so the final
 * rename stays on one file system), is flushed to disk with fsync, and then
 * renamed over the target. The directory is fsynced afterwards so the rename
 * itself survives a crash.
 */
import type { FileHandle } from 'node:fs/promises';
import { requireNode } from '../platform.js';

// Node modules are looked up when a file is written, so that importing fovea in a browser
// (where writing files has no meaning) pulls in no node: module.
const fsp = (): typeof import('node:fs/promises') => requireNode('node:fs/promises', 'writeFileAtomic', 'in browsers serialise to bytes instead');
const pathModule = (): typeof import('node:path') => requireNode('node:path', 'writeFileAtomic', 'in browsers serialise to bytes instead');

/** Error codes that some platforms/file systems return for fsync on a directory. */
const IGNORED_DIR_FSYNC_CODES = new Set(['EINVAL', 'EISDIR', 'EPERM']);

function tempPathFor(path: string): string {
  const { basename, dirname, join } = pathModule();
  const suffix = Math.random().toString(16).slice(2, 14);
  return join(dirname(path), `.${basename(path)}.${process.pid}.${suffix}.tmp`);
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await fsp().open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!IGNORED_DIR_FSYNC_CODES.has(errorCode(err) ?? '')) throw err;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** The permission bits of an existing target, so replacing a file keeps its mode. */
async function existingMode(path: string): Promise<number | undefined> {
  try {
    const st = await fsp().stat(path);
    return st.isFile() ? st.mode & 0o7777 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Atomically replaces the file at `path` with `data` (strings are written as
 * UTF-8). On failure the temporary file is removed, the target is left
 * untouched, and the original error is rethrown.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const { open, rename, unlink } = fsp();
  const tmp = tempPathFor(path);
  const mode = await existingMode(path);
  let handle: FileHandle | undefined;
  let created = false;
  try {
    handle = await open(tmp, 'wx', mode ?? 0o666);
    created = true;
    if (mode !== undefined) await handle.chmod(mode); // open() applies the umask
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    if (created) await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(pathModule().dirname(path));
}

/** Atomically writes `value` as pretty-printed JSON (2-space indent) followed by a newline. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  if (text === undefined) throw new TypeError(`writeJsonAtomic(${path}): value of type ${typeof value} is not JSON-serializable`);
  await writeFileAtomic(path, text + '\n');
}
