import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';
import { randomBytes } from 'node:crypto';
import { SafetensorsError } from './safetensors-error.js';

/** An open file being written by {@link writeFileAtomic}. */
export interface AtomicWriteHandle {
  /** Writes all of `data` at the current end of the file. */
  write(data: Uint8Array): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file-system calls an atomic write goes through. The default is Node's fs; tests pass a
 * fault-injecting implementation to crash at every step (RELIABILITY.md P14, P17).
 */
export interface AtomicWriteFs {
  /** Creates `path` exclusively (fails if it exists). */
  create(path: string): Promise<AtomicWriteHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsyncs the directory so a completed rename survives power loss. */
  syncDir(dir: string): Promise<void>;
}

export const nodeAtomicWriteFs: AtomicWriteFs = {
  async create(path) {
    const h = await fsp.open(path, 'wx', 0o644);
    return {
      async write(data) {
        let done = 0;
        while (done < data.length) {
          const { bytesWritten } = await h.write(data, done, data.length - done);
          if (bytesWritten === 0) throw new Error(`write to ${path} made no progress`);
          done += bytesWritten;
        }
      },
      sync: () => h.sync(),
      close: () => h.close(),
    };
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  async syncDir(dir) {
    let h: fsp.FileHandle | undefined;
    try {
      h = await fsp.open(dir, 'r');
      await h.sync();
    } catch (e) {
      // Directories cannot be opened or fsynced on some platforms (Windows); the rename is then
      // atomic but its durability is up to the OS, as in the reference writer.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'ENOTSUP') throw e;
    } finally {
      await h?.close();
    }
  },
};

/**
 * Writes `chunks` to `path` crash-atomically (RELIABILITY.md P14): a temp file
 * `<path>.tmp-<pid>-<random>` in the SAME directory, fsync, close, rename over `path`, fsync the
 * directory. `path` is never written in place, so a crash leaves either the old file or the new
 * one; on any error before the rename the temp file is removed and the error rethrown as a
 * {@link SafetensorsError} (P17). Returns the number of bytes written.
 */
export async function writeFileAtomic(
  path: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  fs: AtomicWriteFs = nodeAtomicWriteFs,
): Promise<number> {
  const dir = nodePath.dirname(nodePath.resolve(path));
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let handle: AtomicWriteHandle | undefined;
  let created = false;
  let bytes = 0;
  try {
    handle = await fs.create(tmp);
    created = true;
    for await (const chunk of chunks) {
      await handle.write(chunk);
      bytes += chunk.length;
    }
    await handle.sync();
    const h = handle;
    handle = undefined;
    await h.close();
    await fs.rename(tmp, path);
    created = false;
  } catch (cause) {
    if (handle) await handle.close().catch(() => undefined);
    if (created) await fs.unlink(tmp).catch(() => undefined);
    if (cause instanceof SafetensorsError) throw cause;
    throw new SafetensorsError(
      'io-error',
      `writing failed (${(cause as Error).message ?? String(cause)}); the previous file at this path, if any, is unchanged and the temp file was removed. ` +
        `Fix: check free space and permissions, then save again.`,
      { cause, file: path },
    );
  }
  try {
    await fs.syncDir(dir);
  } catch (cause) {
    throw new SafetensorsError(
      'io-error',
      `the file was written and renamed into place, but fsync of the directory ${dir} failed (${(cause as Error).message}); it may not survive a power loss. Fix: check the file system.`,
      { cause, file: path },
    );
  }
  return bytes;
}
