import * as fsp from 'node:fs/promises';
import { constants } from 'node:fs';
import { SafetensorsError } from './safetensors-error.js';

/**
 * Positioned, exact-length reads from a file or buffer. The reader only ever goes through this
 * interface (never `fs.readFile`, which refuses files over 2 GiB, nodejs/node#55864), so tests
 * can count the bytes read before validation completes (RELIABILITY.md P11).
 */
export interface RandomAccessSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Name used in error messages (a path, or `'<bytes>'`). */
  readonly name: string;
  /** Fills `target` with the bytes at `[position, position + target.length)`, or throws. */
  read(target: Uint8Array, position: number): Promise<void>;
  close(): Promise<void>;
}

/** Largest single `read(2)` request: well under the 2 GiB per-call limit of Node's fs. */
const MAX_READ_CHUNK = 1 << 30;

/**
 * Opens a regular file for positioned reads. FIFOs, devices and directories are refused after
 * a non-blocking open, so a hostile path cannot block the reader (RELIABILITY.md P12).
 */
export async function openFileSource(path: string): Promise<RandomAccessSource> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    throw new SafetensorsError('io-error', `cannot open the file: ${(cause as Error).message}. Fix: check the path and its permissions.`, {
      cause,
      file: path,
    });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      throw new SafetensorsError(
        'not-a-regular-file',
        `the path is not a regular file (a directory, FIFO, socket or device). Allowed: regular files. Fix: point at the .safetensors file itself.`,
        { file: path },
      );
    }
    const size = st.size;
    return {
      size,
      name: path,
      async read(target: Uint8Array, position: number): Promise<void> {
        let done = 0;
        while (done < target.length) {
          const want = Math.min(target.length - done, MAX_READ_CHUNK);
          let got: number;
          try {
            ({ bytesRead: got } = await handle.read(target, done, want, position + done));
          } catch (cause) {
            throw new SafetensorsError('io-error', `reading ${want} bytes at offset ${position + done} failed: ${(cause as Error).message}.`, {
              cause,
              file: path,
            });
          }
          if (got === 0) {
            throw new SafetensorsError(
              'short-read',
              `the file ended at offset ${position + done} (validated size ${size}); it was truncated while being read. Fix: do not modify a checkpoint while loading it.`,
              { file: path },
            );
          }
          done += got;
        }
      },
      close: () => handle.close(),
    };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** A source over bytes already in memory (no copy). */
export function bytesSource(bytes: Uint8Array, name = '<bytes>'): RandomAccessSource {
  return {
    size: bytes.length,
    name,
    read(target: Uint8Array, position: number): Promise<void> {
      if (position + target.length > bytes.length) {
        return Promise.reject(new SafetensorsError('short-read', `read past the end of ${bytes.length} bytes at offset ${position}.`, { file: name }));
      }
      target.set(bytes.subarray(position, position + target.length));
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
}
