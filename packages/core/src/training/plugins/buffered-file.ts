import * as fsp from 'node:fs/promises';
import * as nodePath from 'node:path';

/**
 * An append-only file written in the background: `write()` buffers, a flush runs when the buffer
 * passes `flushBytes` or every `flushMs`, and `close()` flushes and closes. Writes are serialized
 * (never interleaved); a failed write is kept and thrown by `close()` (never swallowed).
 */
export class BufferedFile {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #chain: Promise<void> = Promise.resolve();
  #handle: Promise<fsp.FileHandle>;
  #timer: NodeJS.Timeout | undefined;
  #error: unknown;
  #closed = false;

  constructor(
    readonly path: string,
    options: { truncate?: boolean; flushBytes?: number; flushMs?: number } = {},
  ) {
    const { truncate = false, flushBytes = 1 << 16, flushMs = 1000 } = options;
    this.flushBytes = flushBytes;
    this.#handle = fsp.mkdir(nodePath.dirname(path), { recursive: true }).then(() => fsp.open(path, truncate ? 'w' : 'a'));
    this.#handle.catch((e) => (this.#error ??= e));
    this.#timer = setInterval(() => void this.flush(), flushMs);
    this.#timer.unref();
  }

  readonly flushBytes: number;

  write(data: Uint8Array | string): void {
    if (this.#closed) return;
    const b = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.#chunks.push(b);
    this.#size += b.length;
    if (this.#size >= this.flushBytes) void this.flush();
  }

  /** Writes what is buffered (serialized after earlier flushes). */
  flush(): Promise<void> {
    if (this.#chunks.length === 0) return this.#chain;
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#size = 0;
    this.#chain = this.#chain.then(async () => {
      if (this.#error) return;
      try {
        const h = await this.#handle;
        for (const c of chunks) {
          for (let done = 0; done < c.length; ) done += (await h.write(c, done, c.length - done)).bytesWritten;
        }
      } catch (e) {
        this.#error ??= e;
      }
    });
    return this.#chain;
  }

  /** Replaces the file's contents (e.g. after a resume) before anything else is appended. */
  rewrite(transform: (text: string) => string): void {
    this.#chain = this.#chain.then(async () => {
      try {
        const h = await this.#handle;
        const text = await fsp.readFile(this.path, 'utf8').catch(() => '');
        const next = new TextEncoder().encode(transform(text));
        await h.truncate(0);
        await h.write(next, 0, next.length, 0);
      } catch (e) {
        this.#error ??= e;
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.flush();
    await this.#chain;
    try {
      await (await this.#handle).close();
    } catch (e) {
      this.#error ??= e;
    }
    if (this.#error) throw this.#error;
  }
}
