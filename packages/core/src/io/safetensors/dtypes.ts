/**
 * The safetensors dtypes, in the reference's declaration order, which is "increasing alignment
 * order" (`enum Dtype`, huggingface/safetensors@24b0b28:safetensors/src/tensor.rs). The writer
 * sorts tensors by DESCENDING position in this list, then by name (§1.3 of RELIABILITY.md).
 */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'C64',
  'F64',
  'I64',
  'U64',
] as const;

export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

const BITS: Record<SafetensorsDtype, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

const ORDER = new Map<string, number>(SAFETENSORS_DTYPES.map((d, i) => [d, i]));

/** True if `s` is exactly one of {@link SAFETENSORS_DTYPES} (case-sensitive, like the reference). */
export function isSafetensorsDtype(s: string): s is SafetensorsDtype {
  return ORDER.has(s);
}

/** Size of one element in bits (4 and 6 for the sub-byte float formats). */
export function dtypeBits(d: SafetensorsDtype): number {
  return BITS[d];
}

/** Position in the reference's declaration order (the writer's sort key, descending). */
export function dtypeOrder(d: SafetensorsDtype): number {
  return ORDER.get(d) as number;
}

/**
 * JS view a dtype is loaded into:
 * - `F32`, `F16`, `BF16` → `Float32Array` (F16/BF16 are widened exactly);
 * - `F64` → `Float64Array`; `C64` → `Float32Array` of interleaved (re, im), length 2·numel;
 * - `I8`/`I16`/`I32`/`U16`/`U32` → the matching typed array; `U8` and `BOOL` → `Uint8Array`;
 * - `I64` → `BigInt64Array`, `U64` → `BigUint64Array` (use {@link int64ToInt32} for tfjs);
 * - `F8_*`, `F4`, `F6_*` → `Uint8Array` of the raw little-endian bytes (no JS number format).
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

export type TensorDataKind =
  | 'f32'
  | 'f16'
  | 'bf16'
  | 'f64'
  | 'c64'
  | 'i8'
  | 'u8'
  | 'i16'
  | 'u16'
  | 'i32'
  | 'u32'
  | 'i64'
  | 'u64'
  | 'raw';

const KIND: Record<SafetensorsDtype, TensorDataKind> = {
  BOOL: 'u8',
  F4: 'raw',
  F6_E2M3: 'raw',
  F6_E3M2: 'raw',
  U8: 'u8',
  I8: 'i8',
  F8_E5M2: 'raw',
  F8_E4M3: 'raw',
  F8_E8M0: 'raw',
  F8_E4M3FNUZ: 'raw',
  F8_E5M2FNUZ: 'raw',
  I16: 'i16',
  U16: 'u16',
  F16: 'f16',
  BF16: 'bf16',
  I32: 'i32',
  U32: 'u32',
  F32: 'f32',
  C64: 'c64',
  F64: 'f64',
  I64: 'i64',
  U64: 'u64',
};

/** How a dtype's bytes map to a JS typed array (see {@link TensorData}). */
export function dtypeKind(d: SafetensorsDtype): TensorDataKind {
  return KIND[d];
}

/** True for dtypes whose values can be NaN or ±Inf and are checked by RELIABILITY.md P10. */
export function isFloatKind(k: TensorDataKind): boolean {
  return k === 'f32' || k === 'f16' || k === 'bf16' || k === 'f64' || k === 'c64';
}
