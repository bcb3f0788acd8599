import * as fs from 'node:fs';
import { dtypeBits, isSafetensorsDtype, SAFETENSORS_DTYPES, type SafetensorsDtype } from './dtypes.js';
import { SafetensorsError, quote } from './safetensors-error.js';
import { JsonFloat, JsonObject, JsonReader, type JsonValue } from './strict-json.js';

/** Header size cap (`MAX_HEADER_SIZE`, reference tensor.rs:10), checked before any allocation (P2). */
export const MAX_HEADER_SIZE = 100_000_000;
/** Width of the little-endian u64 header length that starts every file. */
export const HEADER_LENGTH_BYTES = 8;

const U64_MAX = (1n << 64n) - 1n;

/** One tensor entry of a validated header. Offsets are relative to the data region. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  /** Row-major shape; `[]` is a scalar; every dim is a safe integer. */
  readonly shape: readonly number[];
  /** `[begin, end)` in bytes, relative to {@link SafetensorsHeader.dataStart}. */
  readonly dataOffsets: readonly [number, number];
  /** `end - begin` = numel × dtype bits / 8. */
  readonly byteLength: number;
  /** Number of elements (product of `shape`). */
  readonly numel: number;
}

/** A fully validated header (RELIABILITY.md §1.2 rules 1–8 plus fewstep's P4/P6 rules). */
export interface SafetensorsHeader {
  /** N, the JSON header length in bytes (including any padding). */
  readonly headerLength: number;
  /** Absolute file offset of the data region: 8 + N. */
  readonly dataStart: number;
  /** Total file size the header was validated against (= dataStart + data region size). */
  readonly fileSize: number;
  /** `__metadata__` as a string → string map, or `null` when absent or `null` in the file. */
  readonly metadata: ReadonlyMap<string, string> | null;
  /** Tensors in data-offset order. */
  readonly tensors: readonly SafetensorsTensorInfo[];
  /** Tensors by name (a `Map`, so `__proto__` and friends are plain keys, P7). */
  readonly byName: ReadonlyMap<string, SafetensorsTensorInfo>;
}

function fileOpt(file: string | undefined): { file: string } | undefined {
  return file === undefined ? undefined : { file };
}

/**
 * Rules 1–3 of §1.2 on the first 8 bytes: the file holds the length prefix, N ≤ 100 000 000 and
 * 8 + N ≤ fileSize. Returns N. Runs before anything else is read or allocated (P2, P11).
 */
export function validateHeaderPrefix(prefix: Uint8Array, fileSize: number, file?: string): number {
  if (fileSize < HEADER_LENGTH_BYTES || prefix.length < HEADER_LENGTH_BYTES) {
    throw new SafetensorsError(
      'header-too-small',
      `file is ${fileSize} bytes, too small for the 8-byte header length. Allowed: at least 8 bytes ` +
        `(u64 little-endian N, then N bytes of JSON, then the data). Fix: the file is truncated or not safetensors.`,
      fileOpt(file),
    );
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, HEADER_LENGTH_BYTES);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    throw new SafetensorsError(
      'header-too-large',
      `header length N = ${n} bytes exceeds the cap. Allowed: N ≤ ${MAX_HEADER_SIZE} (the reference's MAX_HEADER_SIZE). ` +
        `Fix: the file is corrupt or hostile; a real header is a few KB to a few MB.`,
      fileOpt(file),
    );
  }
  const headerLength = Number(n);
  if (HEADER_LENGTH_BYTES + headerLength > fileSize) {
    throw new SafetensorsError(
      'header-length-exceeds-file',
      `header length N = ${headerLength} needs ${HEADER_LENGTH_BYTES + headerLength} bytes but the file has ${fileSize}. ` +
        `Allowed: 8 + N ≤ file size. Fix: the file is truncated (re-download or re-save it).`,
      fileOpt(file),
    );
  }
  return headerLength;
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Rules 4–8 of §1.2 (and P3–P7) on the N header bytes, given the total file size. Throws a
 * {@link SafetensorsError} at the first violation, in the reference's order; returns the
 * validated header only when every tensor entry is valid and the data region is covered exactly.
 */
export function validateHeaderBody(body: Uint8Array, fileSize: number, file?: string): SafetensorsHeader {
  const headerLength = body.length;
  const dataStart = HEADER_LENGTH_BYTES + headerLength;
  let text: string;
  try {
    text = decoder.decode(body);
  } catch (cause) {
    throw new SafetensorsError(
      'header-not-utf8',
      `the ${headerLength}-byte header is not valid UTF-8. Allowed: UTF-8 JSON text. Fix: the file is corrupt or not safetensors.`,
      { cause, ...fileOpt(file) },
    );
  }
  // Rule 5: deserialize every entry, schema-first (no generic tree per tensor entry, P3/P13).
  const reader = new JsonReader(text, { what: 'the safetensors header', ...fileOpt(file) });
  reader.skipWs();
  if (reader.atEnd()) reader.fail('EOF while parsing a value (the header is empty or only whitespace)');
  if (reader.peek() !== 0x7b) {
    const root = reader.parseValue();
    reader.finish();
    throw new SafetensorsError(
      'header-not-object',
      `the header JSON is ${describe(root)}. Allowed: an object {"name": {"dtype", "shape", "data_offsets"}, ..., "__metadata__"?: {string: string}}. ` +
        `Fix: the file is corrupt or not safetensors.`,
      fileOpt(file),
    );
  }
  let metadata: Map<string, string> | null = null;
  const raw: RawEntry[] = [];
  reader.walkObject((name) => {
    if (name === '__metadata__') metadata = parseMetadata(reader.parseValue(), file);
    else raw.push(readEntry(reader, name, file));
  });
  reader.finish();

  // Rule 6: offset order (stable, so ties keep document order). `<` compares number and bigint exactly.
  raw.sort((a, b) => (a.begin < b.begin ? -1 : a.begin > b.begin ? 1 : a.end < b.end ? -1 : a.end > b.end ? 1 : 0));

  // Rule 7: contiguity from 0, checked sizes, exact byte spans.
  let start: U64 = 0;
  const numels: U64[] = [];
  for (const t of raw) {
    // `!=` (not `!==`): begin/end/start may mix number and bigint; loose equality compares values.
    if (t.begin != start || t.end < t.begin) {
      const why =
        t.end < t.begin
          ? 'its end is before its begin'
          : t.begin > start
            ? `it leaves a hole of ${big(t.begin) - big(start)} bytes after the previous tensor`
            : `it overlaps the previous tensor by ${big(start) - big(t.begin)} bytes`;
      throw new SafetensorsError(
        'offsets-not-contiguous',
        `tensor ${quote(t.name)} has data_offsets [${t.begin}, ${t.end}] but the next tensor must begin at ${start}: ${why}. ` +
          `Allowed: tensors sorted by offset start at 0 and are contiguous and non-overlapping (no holes, no shared bytes). ` +
          `Fix: the file is corrupt or hostile; re-save it with a conforming writer.`,
        fileOpt(file),
      );
    }
    start = t.end;
    const { numel, bits } = sizeOf(t, file);
    if (big(bits) % 8n !== 0n) {
      throw new SafetensorsError(
        'misaligned-slice',
        `tensor ${quote(t.name)} (${t.dtype}, shape [${t.shape.join(', ')}]) holds ${bits} bits, not a whole number of bytes. ` +
          `Allowed: numel × ${dtypeBits(t.dtype)} bits divisible by 8. Fix: pad the sub-byte tensor to a whole byte.`,
        fileOpt(file),
      );
    }
    const span = typeof t.end === 'number' && typeof t.begin === 'number' ? t.end - t.begin : big(t.end) - big(t.begin);
    const size = typeof bits === 'number' ? bits / 8 : bits / 8n;
    if (span != size) {
      throw new SafetensorsError(
        'size-mismatch',
        `tensor ${quote(t.name)} (${t.dtype}, shape [${t.shape.join(', ')}]) needs ${size} bytes but data_offsets ` +
          `[${t.begin}, ${t.end}] span ${span}. Allowed: end − begin = numel × dtype size. Fix: the file is corrupt.`,
        fileOpt(file),
      );
    }
    numels.push(numel);
  }

  // Rule 8: the data region is covered exactly (no truncation, no trailing polyglot bytes).
  const expected = BigInt(dataStart) + big(start);
  if (expected !== BigInt(fileSize)) {
    const diff = BigInt(fileSize) - expected;
    throw new SafetensorsError(
      'data-region-mismatch',
      `the tensors end at data offset ${start} (file offset ${expected}) but the file is ${fileSize} bytes: ` +
        (diff > 0n ? `${diff} trailing bytes are not indexed by any tensor` : `${-diff} bytes of tensor data are missing (truncated)`) +
        `. Allowed: the last tensor ends exactly at the end of the file. Fix: re-save or re-download the file.`,
      fileOpt(file),
    );
  }

  // fewstep (P4): every dim must be an exact JS number. After rules 7 and 8 this can only fail
  // for zero-element tensors (the reference accepts e.g. shape [0, 2^60]; fewstep does not).
  const tensors: SafetensorsTensorInfo[] = [];
  const byName = new Map<string, SafetensorsTensorInfo>();
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i] as RawEntry;
    for (const d of t.shape) {
      if (typeof d === 'bigint' && d > MAX_SAFE) {
        throw new SafetensorsError(
          'dim-not-safe-integer',
          `tensor ${quote(t.name)} has dim ${d} in shape [${t.shape.join(', ')}]. Allowed: dims ≤ 2^53 − 1 ` +
            `(exact JS numbers; fewstep is stricter than the reference here). Fix: the zero-size tensor's shape is bogus; re-save it.`,
          fileOpt(file),
        );
      }
    }
    // Offsets are ≤ the file size now, so Number() is exact.
    const begin = Number(t.begin);
    const end = Number(t.end);
    const info: SafetensorsTensorInfo = {
      name: t.name,
      dtype: t.dtype,
      shape: t.shape.map(Number),
      dataOffsets: [begin, end],
      byteLength: end - begin,
      numel: Number(numels[i]),
    };
    tensors.push(info);
    byName.set(t.name, info);
  }
  return { headerLength, dataStart, fileSize, metadata, tensors, byName };
}

/** An exact non-negative integer below 2^64: a `number` when safe, else a `bigint`. */
type U64 = number | bigint;

interface RawEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: U64[];
  begin: U64;
  end: U64;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function big(x: U64): bigint {
  return typeof x === 'bigint' ? x : BigInt(x);
}

/**
 * numel and bit count with the reference's checked u64 arithmetic (`try_fold(checked_mul)`, then
 * `checked_mul(bitsize)`): plain numbers while every partial product is a safe integer, BigInt
 * otherwise, overflow past 2^64 − 1 → `size-overflow` (also when a later dim is 0, as upstream).
 */
function sizeOf(t: RawEntry, file: string | undefined): { numel: U64; bits: U64 } {
  const bitsize = dtypeBits(t.dtype);
  let numel = 1;
  let fast = true;
  for (const d of t.shape) {
    if (typeof d !== 'number') {
      fast = false;
      break;
    }
    numel *= d;
    if (numel > Number.MAX_SAFE_INTEGER) {
      fast = false;
      break;
    }
  }
  if (fast && numel * bitsize <= Number.MAX_SAFE_INTEGER) return { numel, bits: numel * bitsize };
  let n = 1n;
  for (const d of t.shape) {
    n *= big(d);
    if (n > U64_MAX) throw overflow(t.name, t.shape, file);
  }
  const bits = n * BigInt(bitsize);
  if (bits > U64_MAX) throw overflow(t.name, t.shape, file);
  return { numel: n, bits };
}

function overflow(name: string, shape: U64[], file: string | undefined): SafetensorsError {
  return new SafetensorsError(
    'size-overflow',
    `tensor ${quote(name)} has shape [${shape.join(', ')}] whose element or bit count overflows 64 bits. ` +
      `Allowed: numel × dtype bits < 2^64. Fix: the file is corrupt or hostile.`,
    fileOpt(file),
  );
}

function describe(v: JsonValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return `the string ${quote(v, 40)}`;
  if (typeof v === 'bigint' || typeof v === 'number') return `the integer ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (v instanceof JsonFloat) return `the non-integer number ${v.text.slice(0, 40)}`;
  if (Array.isArray(v)) return `an array of ${v.length} items`;
  return 'an object';
}

function parseMetadata(value: JsonValue, file: string | undefined): Map<string, string> | null {
  if (value === null) return null;
  if (!(value instanceof JsonObject)) {
    throw new SafetensorsError(
      'invalid-metadata',
      `"__metadata__" is ${describe(value)}. Allowed: an object mapping strings to strings, or null. Fix: store numbers and nested data as strings (e.g. JSON-encode them).`,
      fileOpt(file),
    );
  }
  const m = new Map<string, string>();
  for (const [k, v] of value) {
    if (typeof v !== 'string') {
      throw new SafetensorsError(
        'invalid-metadata',
        `"__metadata__" key ${quote(k)} is ${describe(v)}. Allowed: string values only. Fix: encode the value as a string.`,
        fileOpt(file),
      );
    }
    m.set(k, v);
  }
  return m;
}

function isU64(x: JsonValue | undefined): x is number | bigint {
  return (typeof x === 'number' && x >= 0) || (typeof x === 'bigint' && x >= 0n && x <= U64_MAX);
}

function readEntry(reader: JsonReader, name: string, file: string | undefined): RawEntry {
  const bad = (rule: 'invalid-tensor-entry' | 'unknown-dtype' | 'invalid-shape' | 'invalid-offsets', what: string, allowed: string) =>
    new SafetensorsError(rule, `tensor ${quote(name)}: ${what}. Allowed: ${allowed}. Fix: the file is corrupt or not safetensors.`, fileOpt(file));
  if (reader.peek() !== 0x7b) {
    const value = reader.parseValue();
    throw bad('invalid-tensor-entry', `the entry is ${describe(value)}`, 'an object {"dtype": string, "shape": [int], "data_offsets": [int, int]}');
  }
  let dtype: SafetensorsDtype | undefined;
  let shape: U64[] | undefined;
  let offsets: [U64, U64] | undefined;
  // Fields in document order, like serde; other fields are parsed (strictly) and ignored, as the
  // reference does.
  reader.walkObject((k) => {
    const v = reader.parseValue();
    if (k === 'dtype') {
      if (typeof v !== 'string') throw bad('unknown-dtype', `"dtype" is ${describe(v)}`, `one of ${SAFETENSORS_DTYPES.join(', ')}`);
      if (!isSafetensorsDtype(v)) throw bad('unknown-dtype', `"dtype" is ${quote(v, 40)}`, `one of ${SAFETENSORS_DTYPES.join(', ')} (case-sensitive)`);
      dtype = v;
    } else if (k === 'shape') {
      if (!Array.isArray(v)) throw bad('invalid-shape', `"shape" is ${describe(v)}`, 'an array of non-negative integers');
      for (let i = 0; i < v.length; i++) {
        if (!isU64(v[i])) {
          throw bad('invalid-shape', `"shape"[${i}] is ${describe(v[i] as JsonValue)}`, 'non-negative integers below 2^64 (no fraction, exponent or -0)');
        }
      }
      shape = v as U64[];
    } else if (k === 'data_offsets') {
      if (!Array.isArray(v) || v.length !== 2) {
        throw bad('invalid-offsets', `"data_offsets" is ${describe(v)}`, 'an array of exactly two non-negative integers [begin, end]');
      }
      for (let i = 0; i < 2; i++) {
        if (!isU64(v[i])) throw bad('invalid-offsets', `"data_offsets"[${i}] is ${describe(v[i] as JsonValue)}`, 'non-negative integers below 2^64');
      }
      offsets = [v[0] as U64, v[1] as U64];
    }
  });
  if (dtype === undefined || shape === undefined || offsets === undefined) {
    const missing = [dtype === undefined && 'dtype', shape === undefined && 'shape', offsets === undefined && 'data_offsets'].filter(Boolean);
    throw bad('invalid-tensor-entry', `missing field(s) ${missing.join(', ')}`, 'entries with "dtype", "shape" and "data_offsets"');
  }
  return { name, dtype, shape, begin: offsets[0], end: offsets[1] };
}

/**
 * Parses and fully validates a safetensors header, in the reference reader's order (§1.2).
 *
 * - `source` as bytes: the whole file, or at least its first 8 + N bytes when `fileSize` (the
 *   real file size) is given.
 * - `source` as a file descriptor: reads exactly 8 bytes, then exactly N bytes (P11) with
 *   positioned reads; `fileSize` defaults to `fstat`.
 *
 * Throws {@link SafetensorsError}; nothing is allocated beyond the N header bytes, and N is
 * capped and bounded by the file size before that allocation (P2).
 */
export function parseSafetensorsHeader(source: Uint8Array | number, fileSize?: number, file?: string): SafetensorsHeader {
  if (typeof source === 'number') {
    const size = fileSize ?? fs.fstatSync(source).size;
    const prefix = new Uint8Array(HEADER_LENGTH_BYTES);
    const got = size >= HEADER_LENGTH_BYTES ? readFullySync(source, prefix, 0, file) : 0;
    const n = validateHeaderPrefix(prefix.subarray(0, got), size, file);
    const body = new Uint8Array(n);
    readFullySync(source, body, HEADER_LENGTH_BYTES, file);
    return validateHeaderBody(body, size, file);
  }
  const size = fileSize ?? source.length;
  const n = validateHeaderPrefix(source, size, file);
  if (source.length < HEADER_LENGTH_BYTES + n) {
    throw new SafetensorsError(
      'short-read',
      `only ${source.length} bytes were given but the header needs ${HEADER_LENGTH_BYTES + n}. Allowed: pass at least 8 + N bytes. Fix: read the whole header first.`,
      fileOpt(file),
    );
  }
  return validateHeaderBody(source.subarray(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + n), size, file);
}

function readFullySync(fd: number, target: Uint8Array, position: number, file: string | undefined): number {
  let done = 0;
  while (done < target.length) {
    let got: number;
    try {
      got = fs.readSync(fd, target, done, target.length - done, position + done);
    } catch (cause) {
      throw new SafetensorsError('io-error', `reading ${target.length} bytes at offset ${position} failed: ${String(cause)}. Fix: check the file and its permissions.`, {
        cause,
        ...fileOpt(file),
      });
    }
    if (got === 0) {
      throw new SafetensorsError(
        'short-read',
        `the file ended at offset ${position + done} while reading ${target.length} bytes at ${position}; it shrank while being read. Fix: do not modify a checkpoint while loading it.`,
        fileOpt(file),
      );
    }
    done += got;
  }
  return done;
}
