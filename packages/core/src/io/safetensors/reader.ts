import { dtypeKind, type SafetensorsDtype, type TensorData } from './dtypes.js';
import { openFileSource, type RandomAccessSource } from './file-source.js';
import {
  HEADER_LENGTH_BYTES,
  validateHeaderBody,
  validateHeaderPrefix,
  type SafetensorsHeader,
  type SafetensorsTensorInfo,
} from './header.js';
import { SafetensorsError, quote } from './safetensors-error.js';
import {
  allocateTensorData,
  assertLittleEndianHost,
  bytesOf,
  countNonFinite,
  decodeTensorBytes,
  isDirectKind,
  widenHalfInto,
} from './tensor-data.js';

/** A tensor loaded from a safetensors file (see `TensorData` for the array type per dtype). */
export interface LoadedTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: TensorData;
  /** Count of NaN/±Inf values (float dtypes; 0 otherwise). Reported, never hidden (P10). */
  readonly nonFinite: number;
}

export interface ReadSafetensorsOptions {
  /** Load only these tensors; an unknown name fails before any data is read (TensorNotFound). */
  names?: readonly string[];
  /** Validate and return the header only (reads exactly 8 + N bytes). */
  headerOnly?: boolean;
  /**
   * Stream: hand each tensor to this callback (in file order) instead of keeping it in
   * `tensors`, so a multi-GiB file never needs all of its tensors in memory at once. Called only
   * after the whole header is validated; an I/O error later (the file shrank while being read)
   * throws after the callbacks for earlier tensors have run.
   */
  onTensor?: (name: string, tensor: LoadedTensor) => void | Promise<void>;
}

export interface SafetensorsContents {
  readonly header: SafetensorsHeader;
  /** `__metadata__`, or `null` when the file has none. */
  readonly metadata: ReadonlyMap<string, string> | null;
  /** Loaded tensors by name (empty for `headerOnly` or `onTensor`). */
  readonly tensors: Map<string, LoadedTensor>;
}

/** Scratch size for widening F16/BF16 while reading (even, so chunks hold whole elements). */
const HALF_CHUNK_BYTES = 16 << 20;

/**
 * Reads and validates only the header: exactly 8 bytes, then exactly N bytes (P11).
 * `source` is a path or a {@link RandomAccessSource} (which is not closed).
 */
export async function readSafetensorsHeader(source: string | RandomAccessSource): Promise<SafetensorsHeader> {
  return withSource(source, (src) => readHeaderFrom(src));
}

/**
 * Reads a safetensors file. Every rule of the header is validated before a single tensor byte
 * is read or allocated (P1, P11); then each selected tensor is read with positioned reads into
 * its own typed array (F16/BF16 are widened to F32 through a 16 MiB scratch buffer).
 */
export async function readSafetensors(
  source: string | RandomAccessSource,
  options: ReadSafetensorsOptions = {},
): Promise<SafetensorsContents> {
  return withSource(source, async (src) => {
    const header = await readHeaderFrom(src);
    const selected = selectTensors(header, options.names, src.name);
    const tensors = new Map<string, LoadedTensor>();
    if (options.headerOnly) return { header, metadata: header.metadata, tensors };
    assertLittleEndianHost();
    for (const info of selected) {
      const data = await readTensorData(src, header, info);
      const t: LoadedTensor = { dtype: info.dtype, shape: info.shape, data, nonFinite: countNonFinite(info.dtype, data) };
      if (options.onTensor) await options.onTensor(info.name, t);
      else tensors.set(info.name, t);
    }
    return { header, metadata: header.metadata, tensors };
  });
}

/**
 * Decodes a whole safetensors file already in memory (synchronous; the result never aliases
 * `bytes`). Same validation as {@link readSafetensors}.
 */
export function decodeSafetensors(
  bytes: Uint8Array,
  options: Pick<ReadSafetensorsOptions, 'names' | 'headerOnly'> & { file?: string } = {},
): SafetensorsContents {
  const n = validateHeaderPrefix(bytes, bytes.length, options.file);
  const header = validateHeaderBody(bytes.subarray(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + n), bytes.length, options.file);
  const selected = selectTensors(header, options.names, options.file ?? '<bytes>');
  const tensors = new Map<string, LoadedTensor>();
  if (options.headerOnly) return { header, metadata: header.metadata, tensors };
  assertLittleEndianHost();
  for (const info of selected) {
    const begin = header.dataStart + info.dataOffsets[0];
    const data = decodeTensorBytes(info.dtype, info.numel, bytes.subarray(begin, begin + info.byteLength));
    tensors.set(info.name, { dtype: info.dtype, shape: info.shape, data, nonFinite: countNonFinite(info.dtype, data) });
  }
  return { header, metadata: header.metadata, tensors };
}

async function withSource<T>(source: string | RandomAccessSource, fn: (src: RandomAccessSource) => Promise<T>): Promise<T> {
  if (typeof source !== 'string') return fn(source);
  const src = await openFileSource(source);
  try {
    return await fn(src);
  } finally {
    await src.close();
  }
}

async function readHeaderFrom(src: RandomAccessSource): Promise<SafetensorsHeader> {
  const prefix = new Uint8Array(Math.min(HEADER_LENGTH_BYTES, src.size));
  await src.read(prefix, 0);
  const n = validateHeaderPrefix(prefix, src.size, src.name);
  const body = new Uint8Array(n);
  await src.read(body, HEADER_LENGTH_BYTES);
  return validateHeaderBody(body, src.size, src.name);
}

function selectTensors(header: SafetensorsHeader, names: readonly string[] | undefined, file: string): readonly SafetensorsTensorInfo[] {
  if (names === undefined) return header.tensors;
  const want = new Set<string>();
  for (const name of names) {
    if (!header.byName.has(name)) {
      const known = [...header.byName.keys()];
      throw new SafetensorsError(
        'tensor-not-found',
        `no tensor named ${quote(name)}. Allowed: one of ${known.length} tensors in the file` +
          (known.length > 0 ? `, e.g. ${known.slice(0, 5).map((k) => quote(k, 40)).join(', ')}` : '') +
          `. Fix: check the name (inspect the file to list them).`,
        { file },
      );
    }
    want.add(name);
  }
  return header.tensors.filter((t) => want.has(t.name));
}

async function readTensorData(src: RandomAccessSource, header: SafetensorsHeader, info: SafetensorsTensorInfo): Promise<TensorData> {
  const kind = dtypeKind(info.dtype);
  const out = allocateTensorData(info.dtype, info.numel, info.byteLength);
  const begin = header.dataStart + info.dataOffsets[0];
  if (isDirectKind(kind)) {
    if (info.byteLength > 0) await src.read(bytesOf(out), begin);
    return out;
  }
  const scratch = new Uint8Array(Math.min(HALF_CHUNK_BYTES, info.byteLength));
  for (let done = 0; done < info.byteLength; done += scratch.length) {
    const chunk = scratch.subarray(0, Math.min(scratch.length, info.byteLength - done));
    await src.read(chunk, begin + done);
    widenHalfInto(kind as 'f16' | 'bf16', chunk, out as Float32Array, done >>> 1);
  }
  return out;
}
