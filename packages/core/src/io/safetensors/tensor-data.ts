import * as os from 'node:os';
import { dtypeBits, dtypeKind, type SafetensorsDtype, type TensorData, type TensorDataKind } from './dtypes.js';
import { decodeBf16, decodeF16 } from './float16.js';
import { SafetensorsError, quote } from './safetensors-error.js';

/**
 * Conversions between the little-endian bytes of a tensor and the JS typed array it loads into
 * (see `TensorData` in dtypes.ts). Typed arrays use the host byte order, so fewstep requires a
 * little-endian host (every platform Node ships for today) and says so instead of
 * misreading data.
 */
export function assertLittleEndianHost(): void {
  if (os.endianness() !== 'LE') {
    throw new SafetensorsError(
      'unsupported-platform',
      `this host is big-endian. Allowed: little-endian hosts (safetensors data is little-endian). Fix: run on x86-64 or arm64.`,
    );
  }
}

/** Allocates the typed array a tensor of `dtype` with `numel` elements loads into. */
export function allocateTensorData(dtype: SafetensorsDtype, numel: number, byteLength: number): TensorData {
  switch (dtypeKind(dtype)) {
    case 'f32':
    case 'f16':
    case 'bf16':
      return new Float32Array(numel);
    case 'c64':
      return new Float32Array(numel * 2);
    case 'f64':
      return new Float64Array(numel);
    case 'i8':
      return new Int8Array(numel);
    case 'u8':
      return new Uint8Array(numel);
    case 'i16':
      return new Int16Array(numel);
    case 'u16':
      return new Uint16Array(numel);
    case 'i32':
      return new Int32Array(numel);
    case 'u32':
      return new Uint32Array(numel);
    case 'i64':
      return new BigInt64Array(numel);
    case 'u64':
      return new BigUint64Array(numel);
    case 'raw':
      return new Uint8Array(byteLength);
  }
}

/** True when the tensor's bytes can be read straight into its typed array (no widening). */
export function isDirectKind(kind: TensorDataKind): boolean {
  return kind !== 'f16' && kind !== 'bf16';
}

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(a: TensorData): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Widens 16-bit float bytes (`src`, an even number of bytes) into `dst` starting at element
 * `dstOffset`. `src` must be 2-byte aligned in its buffer; callers copy into aligned scratch.
 */
export function widenHalfInto(kind: 'f16' | 'bf16', src: Uint8Array, dst: Float32Array, dstOffset: number): void {
  const halves = new Uint16Array(src.buffer, src.byteOffset, src.length >>> 1);
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  if (kind === 'f16') decodeF16(halves, out, dstOffset);
  else decodeBf16(halves, out, dstOffset);
}

/** Decodes a tensor from its bytes (copied; the result never aliases `bytes`). */
export function decodeTensorBytes(dtype: SafetensorsDtype, numel: number, bytes: Uint8Array): TensorData {
  const kind = dtypeKind(dtype);
  const out = allocateTensorData(dtype, numel, bytes.length);
  if (isDirectKind(kind)) {
    bytesOf(out).set(bytes);
    return out;
  }
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  widenHalfInto(kind as 'f16' | 'bf16', aligned, out as Float32Array, 0);
  return out;
}

/** Counts NaN and ±Inf values of a loaded tensor (0 for integer and raw dtypes). P10. */
export function countNonFinite(dtype: SafetensorsDtype, data: TensorData): number {
  const kind = dtypeKind(dtype);
  if (kind !== 'f32' && kind !== 'f16' && kind !== 'bf16' && kind !== 'f64' && kind !== 'c64') return 0;
  const a = data as Float32Array | Float64Array;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (v - v !== 0) n++; // NaN - NaN and Inf - Inf are NaN
  }
  return n;
}

/**
 * Converts a 64-bit integer tensor to `Int32Array` for tfjs (which has no int64), refusing any
 * value outside [−2^31, 2^31 − 1] rather than wrapping it.
 */
export function int64ToInt32(data: BigInt64Array | BigUint64Array, name = 'tensor'): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] as bigint;
    if (v < -2147483648n || v > 2147483647n) {
      throw new SafetensorsError(
        'invalid-tensor-view',
        `${quote(name)}[${i}] = ${v} does not fit in int32. Allowed: −2147483648 … 2147483647 for tfjs 'int32'. Fix: keep the tensor as BigInt64Array, or rescale it.`,
      );
    }
    out[i] = Number(v);
  }
  return out;
}

/** Bytes per element rounded up, for messages. */
export function describeDtype(dtype: SafetensorsDtype): string {
  const bits = dtypeBits(dtype);
  return bits % 8 === 0 ? `${dtype} (${bits / 8} bytes)` : `${dtype} (${bits} bits)`;
}
