import { describe, expect, it } from 'vitest';
import { crc32c, maskedCrc32c } from './crc32c.js';
import { decodeEvent, encodeFileVersionEvent, encodeScalarsEvent, frameRecord, readRecords } from './tfevents.js';

describe('CRC-32C', () => {
  it('matches the standard check value and the RFC 3720 (iSCSI) test vectors', () => {
    expect(crc32c('123456789')).toBe(0xe3069283);
    expect(crc32c('')).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it('masks as TFRecord does: rotate right 15, add 0xa282ead8', () => {
    const crc = crc32c('123456789');
    expect(maskedCrc32c(new TextEncoder().encode('123456789'))).toBe(((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0);
  });
});

describe('TensorBoard event records', () => {
  it('frames records with length, masked CRCs and data, and round-trips events', () => {
    const bytes = [frameRecord(encodeFileVersionEvent(1700000000.5)), frameRecord(encodeScalarsEvent(1700000001.25, 300, { 'loss/generator': 0.25, 'lr/generator': 1e-4 }))];
    const all = new Uint8Array(bytes.reduce((a, b) => a + b.length, 0));
    let at = 0;
    for (const b of bytes) {
      all.set(b, at);
      at += b.length;
    }
    const records = readRecords(all);
    expect(records).toHaveLength(2);
    expect(decodeEvent(records[0]!.data)).toEqual({ wallTime: 1700000000.5, fileVersion: 'brain.Event:2', scalars: {} });
    const e = decodeEvent(records[1]!.data);
    expect(e.step).toBe(300);
    expect(e.wallTime).toBe(1700000001.25);
    expect(e.scalars['loss/generator']).toBe(0.25);
    expect(e.scalars['lr/generator']).toBeCloseTo(1e-4, 10);
    const broken = all.slice();
    broken[20]! ^= 1;
    expect(() => readRecords(broken)).toThrow(/bad data CRC at offset 0/);
    expect(() => readRecords(all.subarray(0, all.length - 1))).toThrow(/truncated/);
  });

  it('encodes the protobuf fields byte for byte (wall_time double, step varint, Summary.Value tag + float)', () => {
    const ev = encodeScalarsEvent(1, 150, { a: 1 });
    // 09 <f64 1.0> | 10 96 01 (150) | 2a 0a | 0a 08 | 0a 01 'a' | 15 <f32 1.0>
    expect(Array.from(ev)).toEqual([0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0x96, 0x01, 0x2a, 0x0a, 0x0a, 0x08, 0x0a, 0x01, 0x61, 0x15, 0, 0, 0x80, 0x3f]);
  });
});
