/**
 * @file Encoder of TensorBoard event files (`events.out.tfevents.*`): TFRecord framing around
 * hand-encoded `tensorflow.Event` protobufs holding scalar summaries. Only the few fields needed
 * are written: Event { wall_time = 1 (double), step = 2 (int64), file_version = 3 (string),
 * summary = 5 (Summary) }, Summary { value = 1 (repeated Value) }, Value { tag = 1 (string),
 * simple_value = 2 (float) }.
 */
import { maskedCrc32c } from './crc32c.js';

const utf8 = new TextEncoder();

/** Grows a byte buffer while encoding protobuf fields. */
class ProtoWriter {
  #buf = new Uint8Array(64);
  #len = 0;

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** Base-128 varint of a non-negative integer (exact up to 2^53). */
  varint(value: number | bigint): this {
    let v = BigInt(value);
    if (v < 0n) v = BigInt.asUintN(64, v);
    this.#reserve(10);
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      this.#buf[this.#len++] = byte;
    } while (v > 0n);
    return this;
  }

  key(field: number, wireType: 0 | 1 | 2 | 5): this {
    return this.varint((field << 3) | wireType);
  }

  double(field: number, value: number): this {
    this.key(field, 1);
    this.#reserve(8);
    new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#len, 8).setFloat64(0, value, true);
    this.#len += 8;
    return this;
  }

  float(field: number, value: number): this {
    this.key(field, 5);
    this.#reserve(4);
    new DataView(this.#buf.buffer, this.#buf.byteOffset + this.#len, 4).setFloat32(0, value, true);
    this.#len += 4;
    return this;
  }

  int64(field: number, value: number): this {
    return this.key(field, 0).varint(Math.trunc(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.key(field, 2).varint(value.length);
    this.#reserve(value.length);
    this.#buf.set(value, this.#len);
    this.#len += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** The `Event` that starts every event file (`file_version: "brain.Event:2"`). */
export function encodeFileVersionEvent(wallTimeSeconds: number): Uint8Array {
  return new ProtoWriter().double(1, wallTimeSeconds).string(3, 'brain.Event:2').finish();
}

/** An `Event` with one scalar summary value per entry of `scalars` (tag → value). */
export function encodeScalarsEvent(wallTimeSeconds: number, step: number, scalars: Readonly<Record<string, number>>): Uint8Array {
  const summary = new ProtoWriter();
  for (const [tag, value] of Object.entries(scalars)) {
    summary.bytes(1, new ProtoWriter().string(1, tag).float(2, value).finish());
  }
  return new ProtoWriter().double(1, wallTimeSeconds).int64(2, step).bytes(5, summary.finish()).finish();
}

/**
 * TFRecord framing: `uint64 length (LE) | uint32 masked_crc32c(length bytes) | data |
 * uint32 masked_crc32c(data)`.
 */
export function frameRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + 4 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** A decoded TFRecord (for tests and `fewstep inspect`). */
export interface TfRecord {
  readonly data: Uint8Array;
}

/**
 * Splits a TFRecord byte stream into records, checking both CRCs.
 * @throws Error naming the offset of a bad length or data CRC, or a truncated record.
 */
export function readRecords(bytes: Uint8Array): TfRecord[] {
  const out: TfRecord[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.length; ) {
    if (at + 12 > bytes.length) throw new Error(`truncated record header at offset ${at}`);
    const len = Number(view.getBigUint64(at, true));
    if (view.getUint32(at + 8, true) !== maskedCrc32c(bytes.subarray(at, at + 8))) throw new Error(`bad length CRC at offset ${at}`);
    if (at + 12 + len + 4 > bytes.length) throw new Error(`truncated record data at offset ${at}`);
    const data = bytes.subarray(at + 12, at + 12 + len);
    if (view.getUint32(at + 12 + len, true) !== maskedCrc32c(data)) throw new Error(`bad data CRC at offset ${at}`);
    out.push({ data });
    at += 12 + len + 4;
  }
  return out;
}

/** A decoded `Event` (only the fields this encoder writes). */
export interface DecodedEvent {
  wallTime?: number;
  step?: number;
  fileVersion?: string;
  scalars: Record<string, number>;
}

/** Decodes an `Event` written by this module (a minimal protobuf reader, for tests). */
export function decodeEvent(data: Uint8Array): DecodedEvent {
  const out: DecodedEvent = { scalars: {} };
  const fields = (b: Uint8Array): { field: number; wire: number; value: number | bigint | Uint8Array }[] => {
    const res: { field: number; wire: number; value: number | bigint | Uint8Array }[] = [];
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let i = 0;
    const varint = (): bigint => {
      let shift = 0n;
      let v = 0n;
      for (;;) {
        const byte = b[i++]!;
        v |= BigInt(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return v;
        shift += 7n;
      }
    };
    while (i < b.length) {
      const key = Number(varint());
      const field = key >>> 3;
      const wire = key & 7;
      if (wire === 0) res.push({ field, wire, value: varint() });
      else if (wire === 1) {
        res.push({ field, wire, value: view.getFloat64(i, true) });
        i += 8;
      } else if (wire === 5) {
        res.push({ field, wire, value: view.getFloat32(i, true) });
        i += 4;
      } else if (wire === 2) {
        const n = Number(varint());
        res.push({ field, wire, value: b.subarray(i, i + n) });
        i += n;
      } else throw new Error(`unsupported wire type ${wire}`);
    }
    return res;
  };
  for (const f of fields(data)) {
    if (f.field === 1 && f.wire === 1) out.wallTime = f.value as number;
    else if (f.field === 2 && f.wire === 0) out.step = Number(f.value);
    else if (f.field === 3 && f.wire === 2) out.fileVersion = new TextDecoder().decode(f.value as Uint8Array);
    else if (f.field === 5 && f.wire === 2) {
      for (const v of fields(f.value as Uint8Array)) {
        if (v.field !== 1) continue;
        let tag = '';
        let value = NaN;
        for (const x of fields(v.value as Uint8Array)) {
          if (x.field === 1) tag = new TextDecoder().decode(x.value as Uint8Array);
          else if (x.field === 2) value = x.value as number;
        }
        out.scalars[tag] = value;
      }
    }
  }
  return out;
}
