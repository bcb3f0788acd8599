import { dtypeBits, dtypeKind, dtypeOrder, isSafetensorsDtype, SAFETENSORS_DTYPES, type SafetensorsDtype, type TensorData } from './dtypes.js';
import { encodeBf16, encodeF16, f32BitsToBf16Bits, f32BitsToF16Bits } from './float16.js';
import { HEADER_LENGTH_BYTES, MAX_HEADER_SIZE } from './header.js';
import { SafetensorsError, quote } from './safetensors-error.js';
import { assertLittleEndianHost, bytesOf } from './tensor-data.js';

/** A tensor to write. `data` is row-major; see {@link prepareSafetensors} for accepted arrays. */
export interface TensorToWrite {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: TensorData | readonly number[] | readonly bigint[];
}

/** Tensors by name: a `Map`, or a record (own enumerable keys; `__proto__` only via a Map or `Object.create(null)`). */
export type TensorsToWrite = ReadonlyMap<string, TensorToWrite> | Readonly<Record<string, TensorToWrite>>;

export interface EncodeSafetensorsOptions {
  /** `__metadata__` (string → string). Omitted from the file when not given. */
  metadata?: ReadonlyMap<string, string> | Readonly<Record<string, string>>;
  /**
   * Mark the file as PyTorch-layout for diffusers/transformers: adds `"format": "pt"` to
   * `__metadata__` (diffusers rejects files whose metadata lacks format "pt"/"flax", P9).
   * Converting tensor layouts (tfjs HWIO → PyTorch OIHW) is the caller's job.
   */
  pytorchLayout?: boolean;
  /** Write NaN/±Inf (and F16/BF16 overflow to ±Inf) instead of refusing (P10). @default false */
  allowNonFinite?: boolean;
}

/** One tensor of a prepared file: its header entry and a lazy producer of its bytes. */
export interface PreparedTensor {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly dataOffsets: readonly [number, number];
  /** The little-endian bytes (a view when no conversion is needed, else freshly encoded). */
  bytes(): Uint8Array;
}

export interface PreparedSafetensors {
  /** The 8-byte length prefix followed by the space-padded JSON header. */
  readonly headerBytes: Uint8Array;
  /** Tensors in file order (descending dtype order, then name by UTF-8 bytes). */
  readonly tensors: readonly PreparedTensor[];
  /** Total file size in bytes. */
  readonly byteLength: number;
}

const utf8 = new TextEncoder();

function entriesOf<T>(m: ReadonlyMap<string, T> | Readonly<Record<string, T>>): [string, T][] {
  if (m instanceof Map) return [...(m as ReadonlyMap<string, T>).entries()];
  const r = m as Readonly<Record<string, T>>;
  return Object.keys(r).map((k) => [k, r[k] as T]);
}

function checkName(name: string, what: string): void {
  if (!isWellFormedUtf16(name)) {
    throw new SafetensorsError(
      'invalid-name',
      `${what} ${quote(name)} contains a lone UTF-16 surrogate, which UTF-8 cannot encode. Allowed: well-formed Unicode strings. Fix: rename it.`,
    );
  }
}

/** True if `s` has no lone UTF-16 surrogate (`String.prototype.isWellFormed`, ES2024). */
export function isWellFormedUtf16(s: string): boolean {
  // With the `u` flag a paired surrogate is one code point, so only lone ones match.
  return !/[\uD800-\uDFFF]/u.test(s);
}

/**
 * Validates the tensors and builds the canonical header, exactly as the reference writer does
 * (`prepare`, huggingface/safetensors@24b0b28:safetensors/src/tensor.rs; RELIABILITY.md §1.3):
 * tensors sorted by descending dtype (declaration order) then by name (UTF-8 byte order),
 * contiguous offsets from 0, `{"__metadata__":{…},"name":{"dtype":…,"shape":[…],"data_offsets":[b,e]},…}`
 * with no whitespace, padded with spaces to a multiple of 8 bytes. Metadata keys are written
 * sorted (the reference writes its HashMap in arbitrary order, so for one key the bytes are
 * identical and for several they are one of the reference's possible outputs).
 *
 * Accepted `data` per dtype (length = numel, except C64: 2·numel interleaved, raw: byte length):
 * F32/F16/BF16: Float32Array | number[]; F64: Float64Array | number[]; C64: Float32Array |
 * number[]; I8/I16/I32/U16/U32: the matching typed array | number[]; U8/BOOL: Uint8Array |
 * number[] (BOOL: 0/1 in a number[]); I64: BigInt64Array | Int32Array | bigint[] | number[]; U64:
 * BigUint64Array | Uint32Array | bigint[] | number[]; F8_*, F4, F6_*: Uint8Array of raw bytes.
 * Throws {@link SafetensorsError} before anything is written.
 */
export function prepareSafetensors(tensors: TensorsToWrite, options: EncodeSafetensorsOptions = {}): PreparedSafetensors {
  assertLittleEndianHost();
  interface Item {
    name: string;
    nameBytes: Uint8Array;
    dtype: SafetensorsDtype;
    shape: number[];
    byteLength: number;
    bytes: () => Uint8Array;
  }
  const items: Item[] = [];
  const nonFinite: string[] = [];
  for (const [name, t] of entriesOf(tensors)) {
    checkName(name, 'tensor name');
    if (name === '__metadata__') {
      throw new SafetensorsError('invalid-name', `a tensor cannot be named "__metadata__" (the reserved metadata key). Fix: rename it.`);
    }
    const item = prepareOne(name, t);
    const bad = options.allowNonFinite ? 0 : item.nonFinite;
    if (bad > 0) nonFinite.push(`${quote(name)}: ${bad} value(s), first at index ${item.firstBad}${item.overflow ? ` (finite values that overflow ${t.dtype})` : ''}`);
    items.push({ name, nameBytes: utf8.encode(name), dtype: t.dtype, shape: [...t.shape], byteLength: item.byteLength, bytes: item.bytes });
  }
  if (nonFinite.length > 0) {
    throw new SafetensorsError(
      'non-finite',
      `refusing to persist NaN/±Inf in ${nonFinite.length} tensor(s): ${nonFinite.slice(0, 5).join('; ')}${nonFinite.length > 5 ? '; …' : ''}. ` +
        `Allowed: finite values only by default. Fix: find where the NaN/Inf came from, or pass { allowNonFinite: true } to save them deliberately.`,
    );
  }
  items.sort((a, b) => dtypeOrder(b.dtype) - dtypeOrder(a.dtype) || Buffer.compare(a.nameBytes, b.nameBytes));

  const metadata = new Map<string, string>();
  if (options.metadata !== undefined) {
    for (const [k, v] of entriesOf(options.metadata)) {
      if (typeof v !== 'string') {
        throw new SafetensorsError(
          'invalid-metadata',
          `metadata key ${quote(k)} has a ${typeof v} value. Allowed: strings only (the format's __metadata__ is string → string). Fix: String(value) or JSON.stringify(value).`,
        );
      }
      checkName(k, 'metadata key');
      checkName(v, `metadata value of ${quote(k)}:`);
      metadata.set(k, v);
    }
  }
  if (options.pytorchLayout) {
    const f = metadata.get('format');
    if (f !== undefined && f !== 'pt') {
      throw new SafetensorsError(
        'invalid-metadata',
        `metadata "format" is ${quote(f)} but pytorchLayout is set. Allowed: "pt" (or omit it). Fix: drop one of the two.`,
      );
    }
    metadata.set('format', 'pt');
  }
  const writeMetadata = options.metadata !== undefined || options.pytorchLayout === true;

  // Cheap lower bound on the header size (UTF-16 length ≤ UTF-8 bytes, escaping only grows), so a
  // hopeless header is refused before 100 MB of JSON is built.
  let lowerBound = 2;
  for (const [k, v] of metadata) lowerBound += k.length + v.length + 6;
  for (const it of items) lowerBound += it.name.length + 50;
  if (lowerBound > MAX_HEADER_SIZE) throw headerTooLarge(lowerBound);

  const parts: string[] = [];
  if (writeMetadata) {
    const keys = [...metadata.keys()].sort((a, b) => Buffer.compare(utf8.encode(a), utf8.encode(b)));
    parts.push(`"__metadata__":{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(metadata.get(k))}`).join(',')}}`);
  }
  const prepared: PreparedTensor[] = [];
  let offset = 0;
  for (const it of items) {
    const begin = offset;
    offset += it.byteLength;
    if (!Number.isSafeInteger(offset)) {
      throw new SafetensorsError('size-overflow', `the tensors add up to more than 2^53 bytes. Fix: shard the checkpoint.`);
    }
    parts.push(`${JSON.stringify(it.name)}:{"dtype":"${it.dtype}","shape":[${it.shape.join(',')}],"data_offsets":[${begin},${offset}]}`);
    prepared.push({ name: it.name, dtype: it.dtype, shape: it.shape, dataOffsets: [begin, offset], bytes: it.bytes });
  }
  const json = utf8.encode(`{${parts.join(',')}}`);
  const n = Math.ceil(json.length / 8) * 8;
  if (n > MAX_HEADER_SIZE) throw headerTooLarge(n);
  const headerBytes = new Uint8Array(HEADER_LENGTH_BYTES + n).fill(0x20, HEADER_LENGTH_BYTES + json.length);
  new DataView(headerBytes.buffer).setBigUint64(0, BigInt(n), true);
  headerBytes.set(json, HEADER_LENGTH_BYTES);
  return { headerBytes, tensors: prepared, byteLength: headerBytes.length + offset };
}

function headerTooLarge(n: number): SafetensorsError {
  return new SafetensorsError(
    'header-too-large',
    `the header would be at least ${n} bytes. Allowed: ≤ ${MAX_HEADER_SIZE} (readers refuse larger headers). Fix: shard the checkpoint or shorten metadata.`,
  );
}

/** Encodes a whole safetensors file in memory (canonical bytes; see {@link prepareSafetensors}). */
export function encodeSafetensors(tensors: TensorsToWrite, options: EncodeSafetensorsOptions = {}): Uint8Array {
  const p = prepareSafetensors(tensors, options);
  const out = new Uint8Array(p.byteLength);
  out.set(p.headerBytes, 0);
  let at = p.headerBytes.length;
  for (const t of p.tensors) {
    const b = t.bytes();
    out.set(b, at);
    at += b.length;
  }
  return out;
}

interface OneTensor {
  byteLength: number;
  nonFinite: number;
  firstBad: number;
  overflow: boolean;
  bytes: () => Uint8Array;
}

function prepareOne(name: string, t: TensorToWrite): OneTensor {
  const view = (what: string, allowed: string): SafetensorsError =>
    new SafetensorsError('invalid-tensor-view', `tensor ${quote(name)}: ${what}. Allowed: ${allowed}.`);
  if (typeof t !== 'object' || t === null) throw view(`the value is ${t === null ? 'null' : typeof t}`, 'an object { dtype, shape, data }');
  const dtype = t.dtype as string;
  if (typeof dtype !== 'string' || !isSafetensorsDtype(dtype)) {
    throw new SafetensorsError('unknown-dtype', `tensor ${quote(name)} has dtype ${JSON.stringify(dtype)}. Allowed: ${SAFETENSORS_DTYPES.join(', ')}.`);
  }
  if (!Array.isArray(t.shape)) throw new SafetensorsError('invalid-shape', `tensor ${quote(name)}: shape is not an array. Allowed: non-negative integers.`);
  let numel = 1;
  for (const [i, d] of t.shape.entries()) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new SafetensorsError('invalid-shape', `tensor ${quote(name)}: shape[${i}] is ${String(d)}. Allowed: non-negative safe integers.`);
    }
    numel *= d;
    if (!Number.isSafeInteger(numel)) {
      throw new SafetensorsError('size-overflow', `tensor ${quote(name)}: shape [${t.shape.join(', ')}] has more than 2^53 elements.`);
    }
  }
  const bits = numel * dtypeBits(dtype);
  if (!Number.isSafeInteger(bits)) throw new SafetensorsError('size-overflow', `tensor ${quote(name)}: ${numel} elements of ${dtype} exceed 2^53 bits.`);
  if (bits % 8 !== 0) {
    throw new SafetensorsError(
      'misaligned-slice',
      `tensor ${quote(name)} (${dtype}, shape [${t.shape.join(', ')}]) holds ${bits} bits. Allowed: a whole number of bytes. Fix: pad the tensor.`,
    );
  }
  const byteLength = bits / 8;
  const data = t.data;
  const kind = dtypeKind(dtype);
  const expectLength = kind === 'c64' ? numel * 2 : kind === 'raw' ? byteLength : numel;
  const len = (data as ArrayLike<unknown> | undefined)?.length;
  if (typeof len !== 'number' || typeof data !== 'object') throw view('data is not an array', 'a typed array or a plain array');
  if (len !== expectLength) {
    throw view(`data has ${len} elements but shape [${t.shape.join(', ')}] needs ${expectLength}`, `exactly ${expectLength} ${kind === 'raw' ? 'bytes' : 'elements'}`);
  }
  const none = { nonFinite: 0, firstBad: -1, overflow: false };
  const numbers = (check: (v: number, i: number) => void): void => {
    if (!Array.isArray(data)) return;
    for (let i = 0; i < data.length; i++) check(data[i] as number, i);
  };
  const intRange = (lo: number, hi: number) => (v: number, i: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw view(`data[${i}] = ${String(v)}`, `integers in [${lo}, ${hi}] for ${dtype}`);
  };
  switch (kind) {
    case 'f32':
    case 'c64': {
      const a = asTyped(data, Float32Array, view, 'Float32Array or number[]');
      return { byteLength, ...scanFloat(a), bytes: () => bytesOf(a) };
    }
    case 'f64': {
      const a = asTyped(data, Float64Array, view, 'Float64Array or number[]');
      return { byteLength, ...scanFloat(a), bytes: () => bytesOf(a) };
    }
    case 'f16':
    case 'bf16': {
      const a = asTyped(data, Float32Array, view, 'Float32Array or number[] (encoded to 16 bits, round to nearest even)');
      const bits32 = new Uint32Array(a.buffer, a.byteOffset, a.length);
      const narrow = kind === 'f16' ? f32BitsToF16Bits : f32BitsToBf16Bits;
      const expMask = kind === 'f16' ? 0x7c00 : 0x7f80;
      let nonFinite = 0;
      let firstBad = -1;
      let overflow = false;
      for (let i = 0; i < bits32.length; i++) {
        const b = bits32[i] as number;
        if ((narrow(b) & expMask) === expMask) {
          nonFinite++;
          if (firstBad < 0) firstBad = i;
          if ((b & 0x7f800000) !== 0x7f800000) overflow = true;
        }
      }
      return {
        byteLength,
        nonFinite,
        firstBad,
        overflow,
        bytes: () => {
          const out = new Uint16Array(bits32.length);
          if (kind === 'f16') encodeF16(bits32, out);
          else encodeBf16(bits32, out);
          return bytesOf(out);
        },
      };
    }
    case 'i8':
      numbers(intRange(-128, 127));
      return { byteLength, ...none, bytes: bytesFn(asTyped(data, Int8Array, view, 'Int8Array or number[]')) };
    case 'u8':
      numbers(intRange(0, dtype === 'BOOL' ? 1 : 255));
      {
        // A Uint8Array is written as is (BOOL bytes other than 0/1 are not checked, like the
        // reference), so whatever the reader returns writes back byte-identically.
        return { byteLength, ...none, bytes: bytesFn(asTyped(data, Uint8Array, view, 'Uint8Array or number[]')) };
      }
    case 'i16':
      numbers(intRange(-32768, 32767));
      return { byteLength, ...none, bytes: bytesFn(asTyped(data, Int16Array, view, 'Int16Array or number[]')) };
    case 'u16':
      numbers(intRange(0, 65535));
      return { byteLength, ...none, bytes: bytesFn(asTyped(data, Uint16Array, view, 'Uint16Array or number[]')) };
    case 'i32':
      numbers(intRange(-2147483648, 2147483647));
      return { byteLength, ...none, bytes: bytesFn(asTyped(data, Int32Array, view, 'Int32Array or number[]')) };
    case 'u32':
      numbers(intRange(0, 4294967295));
      return { byteLength, ...none, bytes: bytesFn(asTyped(data, Uint32Array, view, 'Uint32Array or number[]')) };
    case 'i64':
    case 'u64': {
      const signed = kind === 'i64';
      const Big = signed ? BigInt64Array : BigUint64Array;
      if (data instanceof Big) return { byteLength, ...none, bytes: bytesFn(data) };
      const lo = signed ? -(1n << 63n) : 0n;
      const hi = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
      const small = signed ? Int32Array : Uint32Array;
      if (!(data instanceof small) && !Array.isArray(data)) throw view(`data is a ${data.constructor.name}`, `${Big.name}, ${small.name}, bigint[] or number[]`);
      const out = new Big(numel);
      for (let i = 0; i < numel; i++) {
        const v = (data as ArrayLike<number | bigint>)[i];
        let b: bigint;
        if (typeof v === 'bigint') b = v;
        else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
        else throw view(`data[${i}] = ${String(v)}`, `integers (bigint, or safe-integer numbers) for ${dtype}`);
        if (b < lo || b > hi) throw view(`data[${i}] = ${b}`, `[${lo}, ${hi}] for ${dtype}`);
        out[i] = b;
      }
      return { byteLength, ...none, bytes: bytesFn(out) };
    }
    case 'raw':
      if (!(data instanceof Uint8Array)) throw view(`data is a ${data.constructor.name}`, `a Uint8Array of the raw little-endian bytes for ${dtype}`);
      return { byteLength, ...none, bytes: bytesFn(data) };
  }
}

function bytesFn(a: TensorData): () => Uint8Array {
  return () => bytesOf(a);
}

type TypedCtor<T> = { new (n: number): T; from(a: ArrayLike<number>): T; name: string };

function asTyped<T extends TensorData>(
  data: TensorData | readonly number[] | readonly bigint[],
  ctor: TypedCtor<T>,
  view: (what: string, allowed: string) => SafetensorsError,
  allowed: string,
): T {
  if (data instanceof (ctor as unknown as abstract new (...a: never[]) => T)) return data;
  if (Array.isArray(data)) {
    for (let i = 0; i < data.length; i++) {
      if (typeof data[i] !== 'number') throw view(`data[${i}] is a ${typeof data[i]}`, allowed);
    }
    return ctor.from(data as number[]);
  }
  throw view(`data is a ${(data as object).constructor.name}`, allowed);
}

function scanFloat(a: Float32Array | Float64Array): { nonFinite: number; firstBad: number; overflow: boolean } {
  let nonFinite = 0;
  let firstBad = -1;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (v - v !== 0) {
      nonFinite++;
      if (firstBad < 0) firstBad = i;
    }
  }
  return { nonFinite, firstBad, overflow: false };
}
