import { describe, expect, it } from 'vitest';
import { inflateSync } from 'node:zlib';
import { encodePng } from './png.js';
import { videoStripPng } from './video-strip.js';

/** CRC-32 (ISO 3309, as PNG specifies), bitwise: an implementation independent of the encoder's. */
function crc32Reference(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function parse(png: Buffer) {
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const chunks: Array<{ type: string; data: Buffer }> = [];
  let o = 8;
  while (o < png.length) {
    const len = png.readUInt32BE(o);
    const type = png.toString('ascii', o + 4, o + 8);
    const data = png.subarray(o + 8, o + 8 + len);
    expect(png.readUInt32BE(o + 8 + len)).toBe(crc32Reference(png.subarray(o + 4, o + 8 + len)));
    chunks.push({ type, data });
    o += 12 + len;
  }
  return chunks;
}

describe('encodePng', () => {
  it('writes IHDR, a zlib IDAT of filter-0 rows, and IEND, each with a valid CRC', () => {
    const pixels = Uint8Array.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    const chunks = parse(encodePng(pixels, 3, 2, 3));
    expect(chunks.map((c) => c.type)).toEqual(['IHDR', 'IDAT', 'IEND']);
    const ihdr = chunks[0]!.data;
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9], ihdr[10], ihdr[11], ihdr[12]]).toEqual([3, 2, 8, 2, 0, 0, 0]);
    expect([...inflateSync(chunks[1]!.data)]).toEqual([0, ...pixels.subarray(0, 9), 0, ...pixels.subarray(9)]);
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => encodePng(new Uint8Array(5), 2, 2, 1)).toThrow(/5 bytes for a 2x2x1 image \(expected 4\)/);
  });
});

describe('videoStripPng', () => {
  it('lays out [N, F, H, W, C] videos as rows of frames, upscaled, mapping [-1, 1] to [0, 255]', () => {
    // 2 videos, 2 frames, 1x1 pixels, gray: values -1, 1 / 0, 1.
    const png = videoStripPng(Float32Array.from([-1, 1, 0, 1]), [2, 2, 1, 1, 1], { scale: 2, gap: 1 });
    const [ihdr, idat] = parse(png);
    expect([ihdr!.data.readUInt32BE(0), ihdr!.data.readUInt32BE(4), ihdr!.data[9]]).toEqual([5, 5, 0]);
    const raw = inflateSync(idat!.data);
    const row = (y: number) => [...raw.subarray(y * 6 + 1, y * 6 + 6)];
    expect(row(0)).toEqual([0, 0, 255, 255, 255]);
    expect(row(2)).toEqual([255, 255, 255, 255, 255]); // the gap between rows
    expect(row(3)).toEqual([128, 128, 255, 255, 255]);
  });
});
