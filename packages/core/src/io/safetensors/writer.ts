import { nodeAtomicWriteFs, writeFileAtomic, type AtomicWriteFs } from './atomic-write.js';
import { prepareSafetensors, type EncodeSafetensorsOptions, type PreparedSafetensors, type TensorsToWrite } from './encode.js';

export interface WriteSafetensorsOptions extends EncodeSafetensorsOptions {
  /** File-system layer (fault injection in tests). @default Node's fs */
  fs?: AtomicWriteFs;
}

/**
 * Writes tensors as a canonical safetensors file (§1.3, P8), crash-atomically (P14): everything
 * is validated first (names, dtypes, shapes, data lengths, non-finite values P10, header size),
 * then the bytes stream into a same-directory temp file that is fsynced and renamed over `path`.
 * F16/BF16 tensors are encoded one at a time, so peak extra memory is one tensor.
 * Returns the file size in bytes.
 */
export async function writeSafetensors(path: string, tensors: TensorsToWrite, options: WriteSafetensorsOptions = {}): Promise<number> {
  const prepared = prepareSafetensors(tensors, options);
  return writeFileAtomic(path, chunksOf(prepared), options.fs ?? nodeAtomicWriteFs);
}

/** The file's bytes as chunks: the header, then each tensor in file order. */
export function* chunksOf(prepared: PreparedSafetensors): Generator<Uint8Array> {
  yield prepared.headerBytes;
  for (const t of prepared.tensors) yield t.bytes();
}
