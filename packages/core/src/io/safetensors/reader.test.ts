import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { file } from './fixtures/conformance-corpus.js';
import { openFileSource, type RandomAccessSource } from './file-source.js';
import { parseSafetensorsHeader } from './header.js';
import { inspectSafetensors, summarizeSafetensors } from './inspect.js';
import { decodeSafetensors, readSafetensors, readSafetensorsHeader, type LoadedTensor } from './reader.js';
import { SafetensorsError } from './safetensors-error.js';
import { int64ToInt32 } from './tensor-data.js';
import { writeSafetensors } from './writer.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fewstep-st-read-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Wraps a source and records every read (position, length). */
function counting(src: RandomAccessSource): RandomAccessSource & { reads: [number, number][]; bytes(): number } {
  const reads: [number, number][] = [];
  return {
    size: src.size,
    name: src.name,
    reads,
    bytes: () => reads.reduce((a, [, n]) => a + n, 0),
    read(target, position) {
      reads.push([position, target.length]);
      return src.read(target, position);
    },
    close: () => src.close(),
  };
}

async function rejection(p: Promise<unknown>): Promise<SafetensorsError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return e as SafetensorsError;
  }
  throw new Error('expected a rejection');
}

describe('readSafetensors', () => {
  it('P7: hostile tensor and metadata names are plain data and round-trip; Object.prototype is untouched', async () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'a\u0000b', '../x', '/etc/passwd', 'x'.repeat(10_000), '\u{1F600}\u00e9', 'a"b\\c\n'];
    const tensors = new Map(names.map((n, i) => [n, { dtype: 'I32' as const, shape: [1], data: Int32Array.of(i) }]));
    const p = path.join(dir, 'hostile.safetensors');
    await writeSafetensors(p, tensors, { metadata: new Map([['__proto__', 'p'], ['constructor', 'c']]) });
    const r = await readSafetensors(p);
    expect([...r.tensors.keys()].sort()).toEqual([...names].sort());
    for (const [i, n] of names.entries()) expect(Array.from(r.tensors.get(n)!.data as Int32Array)).toEqual([i]);
    expect(r.metadata?.get('__proto__')).toBe('p');
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    // Record input: own keys only, so a literal `__proto__` key must be created explicitly.
    const rec = Object.create(null) as Record<string, { dtype: 'U8'; shape: number[]; data: Uint8Array }>;
    rec['__proto__'] = { dtype: 'U8', shape: [1], data: Uint8Array.of(9) };
    const q = path.join(dir, 'hostile-record.safetensors');
    await writeSafetensors(q, rec);
    expect((await readSafetensors(q)).tensors.get('__proto__')?.data).toEqual(Uint8Array.of(9));
  });

  it('loads every dtype into its documented typed array; I64 converts to Int32 only within range', async () => {
    const p = path.join(dir, 'dtypes.safetensors');
    await writeSafetensors(p, {
      f32: { dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2) },
      f16: { dtype: 'F16', shape: [2], data: Float32Array.of(1.5, -2) },
      bf16: { dtype: 'BF16', shape: [2], data: [1.5, -2] },
      f64: { dtype: 'F64', shape: [1], data: Float64Array.of(Math.PI) },
      c64: { dtype: 'C64', shape: [1], data: Float32Array.of(1, -1) },
      i64: { dtype: 'I64', shape: [2], data: [5n, -(2n ** 40n)] },
      u64: { dtype: 'U64', shape: [1], data: [2n ** 64n - 1n] },
      i8: { dtype: 'I8', shape: [1], data: [-5] },
      bool: { dtype: 'BOOL', shape: [2], data: [1, 0] },
      f8: { dtype: 'F8_E4M3', shape: [2], data: Uint8Array.of(0x38, 0x40) },
      f4: { dtype: 'F4', shape: [4], data: Uint8Array.of(0x21, 0x43) },
    });
    const t = (await readSafetensors(p)).tensors;
    const get = (n: string): LoadedTensor => t.get(n) as LoadedTensor;
    expect(get('f32').data).toEqual(Float32Array.of(1.5, -2));
    expect(get('f16').data).toEqual(Float32Array.of(1.5, -2));
    expect(get('bf16').data).toEqual(Float32Array.of(1.5, -2));
    expect(get('f64').data).toEqual(Float64Array.of(Math.PI));
    expect(get('c64').data).toEqual(Float32Array.of(1, -1));
    expect(get('i64').data).toEqual(BigInt64Array.of(5n, -(2n ** 40n)));
    expect(get('u64').data).toEqual(BigUint64Array.of(2n ** 64n - 1n));
    expect(get('i8').data).toEqual(Int8Array.of(-5));
    expect(get('bool').data).toEqual(Uint8Array.of(1, 0));
    expect(get('f8').data).toEqual(Uint8Array.of(0x38, 0x40));
    expect(get('f4')).toMatchObject({ shape: [4], data: Uint8Array.of(0x21, 0x43) });
    expect(int64ToInt32(BigInt64Array.of(5n, -7n))).toEqual(Int32Array.of(5, -7));
    expect(() => int64ToInt32(get('i64').data as BigInt64Array, 'i64')).toThrow(/"i64"\[1\] = -1099511627776 does not fit in int32/);
  });

  it('P10: the loader reports the count of non-finite values per tensor', async () => {
    const p = path.join(dir, 'nonfinite.safetensors');
    await writeSafetensors(
      p,
      { a: { dtype: 'F32', shape: [4], data: Float32Array.of(NaN, 1, Infinity, -Infinity) }, b: { dtype: 'F16', shape: [2], data: [NaN, 0] }, c: { dtype: 'I32', shape: [1], data: [1] } },
      { allowNonFinite: true },
    );
    const r = await readSafetensors(p);
    expect(Object.fromEntries([...r.tensors].map(([n, t]) => [n, t.nonFinite]))).toEqual({ a: 3, b: 1, c: 0 });
  });

  it('names / headerOnly / onTensor; an unknown name is TensorNotFound before any data is read', async () => {
    const p = path.join(dir, 'select.safetensors');
    await writeSafetensors(p, { a: { dtype: 'F32', shape: [2], data: [1, 2] }, b: { dtype: 'U8', shape: [3], data: [1, 2, 3] } });
    expect([...(await readSafetensors(p, { names: ['b'] })).tensors.keys()]).toEqual(['b']);
    const ho = await readSafetensors(p, { headerOnly: true });
    expect(ho.tensors.size).toBe(0);
    expect(ho.header.tensors.map((t) => t.name)).toEqual(['a', 'b']);
    const seen: string[] = [];
    const streamed = await readSafetensors(p, { onTensor: (n) => void seen.push(n) });
    expect(seen).toEqual(['a', 'b']);
    expect(streamed.tensors.size).toBe(0);
    const src = counting(await openFileSource(p));
    const err = await rejection(readSafetensors(src, { names: ['a', 'nope'] }));
    await src.close();
    expect(err.rule).toBe('tensor-not-found');
    expect(err.referenceClass).toBe('TensorNotFound');
    expect(err.message).toMatch(/no tensor named "nope".*e\.g\. "a", "b"/);
    expect(src.bytes()).toBe(8 + ho.header.headerLength);
  });

  it('parseSafetensorsHeader takes bytes (whole file or prefix + fileSize) or a file descriptor', async () => {
    const p = path.join(dir, 'fd.safetensors');
    await writeSafetensors(p, { w: { dtype: 'F32', shape: [3], data: [1, 2, 3] } });
    const bytes = fs.readFileSync(p);
    const h = parseSafetensorsHeader(bytes);
    expect(h.tensors[0]).toMatchObject({ name: 'w', dtype: 'F32', shape: [3], dataOffsets: [0, 12], byteLength: 12 });
    expect(parseSafetensorsHeader(bytes.subarray(0, h.dataStart), bytes.length).tensors).toHaveLength(1);
    const fd = fs.openSync(p, 'r');
    try {
      expect(parseSafetensorsHeader(fd).tensors[0]?.name).toBe('w');
    } finally {
      fs.closeSync(fd);
    }
    expect(() => parseSafetensorsHeader(bytes.subarray(0, h.dataStart))).toThrow(/data-region-mismatch/);
    expect(decodeSafetensors(bytes).tensors.get('w')?.data).toEqual(Float32Array.of(1, 2, 3));
  });

  it('P11: a sparse 3 GiB file: the header read is exactly 8 + N bytes before validation, a selected tensor costs only its bytes', async () => {
    const p = path.join(dir, 'sparse-3gib.safetensors');
    const big = 3 * 2 ** 30;
    const header = `{"__metadata__":{"format":"pt"},"small":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"big":{"dtype":"U8","shape":[${big}],"data_offsets":[16,${16 + big}]}}`;
    const head = file(header, new Uint8Array(Float32Array.of(1, 2, 3, 4).buffer));
    fs.writeFileSync(p, head);
    fs.truncateSync(p, head.length + big); // ftruncate: sparse, no disk blocks, no RAM
    const n = header.length;
    const rss0 = process.memoryUsage().rss;

    const src = counting(await openFileSource(p));
    const h = await readSafetensorsHeader(src);
    expect(src.reads).toEqual([
      [0, 8],
      [8, n],
    ]);
    expect(h.fileSize).toBe(head.length + big);
    expect(h.byName.get('big')?.byteLength).toBe(big);

    src.reads.length = 0;
    const r = await readSafetensors(src, { names: ['small'] });
    await src.close();
    expect(r.tensors.get('small')?.data).toEqual(Float32Array.of(1, 2, 3, 4));
    expect(src.bytes()).toBe(8 + n + 16);
    const rssDelta = process.memoryUsage().rss - rss0;
    expect(rssDelta).toBeLessThan(64 * 2 ** 20);
    console.info(`P11 figure: ${big + head.length}-byte file, bytes read before validation = ${8 + n} (8 + N), RSS delta ${(rssDelta / 2 ** 20).toFixed(1)} MiB`);
    expect((await summarizeSafetensors(p)).totalTensorBytes).toBe(big + 16);
  });

  it('P11: F16 tensors larger than the 16 MiB scratch stream through it chunk by chunk, exactly', async () => {
    const p = path.join(dir, 'sparse-f16.safetensors');
    const numel = 9 * 2 ** 20; // 18 MiB of F16: two scratch chunks
    const head = file(`{"h":{"dtype":"F16","shape":[${numel}],"data_offsets":[0,${numel * 2}]}}`);
    fs.writeFileSync(p, head);
    fs.truncateSync(p, head.length + numel * 2);
    const fd = fs.openSync(p, 'r+');
    const boundary = (16 * 2 ** 20) / 2; // first element of the second chunk
    for (const [i, bits] of [[0, 0x3c00], [boundary - 1, 0x4000], [boundary, 0xc000], [numel - 1, 0x7c00]] as const) {
      fs.writeSync(fd, Uint8Array.of(bits & 0xff, bits >> 8), 0, 2, head.length + i * 2);
    }
    fs.closeSync(fd);
    const t = (await readSafetensors(p)).tensors.get('h') as LoadedTensor;
    const d = t.data as Float32Array;
    expect([d[0], d[boundary - 1], d[boundary], d[numel - 1], d[1], d[numel - 2]]).toEqual([1, 2, -2, Infinity, 0, 0]);
    expect(t.nonFinite).toBe(1);
  });

  it('P11: the loader never uses fs.readFile (it refuses files over 2 GiB)', () => {
    const here = path.dirname(new URL(import.meta.url).pathname);
    for (const f of fs.readdirSync(here).filter((x) => x.endsWith('.ts') && !x.endsWith('.test.ts'))) {
      expect([f, /readFile(Sync)?\s*\(/.test(fs.readFileSync(path.join(here, f), 'utf8'))]).toEqual([f, false]);
    }
  });

  it('P12: FIFOs, directories and missing paths are refused without blocking', async () => {
    const fifo = path.join(dir, 'pipe.safetensors');
    let haveFifo = true;
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      haveFifo = false;
    }
    if (haveFifo) expect((await rejection(readSafetensors(fifo))).rule).toBe('not-a-regular-file');
    expect((await rejection(readSafetensors(dir))).rule).toBe('not-a-regular-file');
    expect((await rejection(readSafetensors(path.join(dir, 'missing.safetensors')))).rule).toBe('io-error');
  });

  it('P11: a file that shrinks after validation gives short-read, not garbage', async () => {
    const p = path.join(dir, 'shrink.safetensors');
    await writeSafetensors(p, { a: { dtype: 'U8', shape: [100], data: new Uint8Array(100) } });
    const src = await openFileSource(p);
    fs.truncateSync(p, 50);
    const err = await rejection(readSafetensors(src));
    await src.close();
    expect(err.rule).toBe('short-read');
  });

  it('inspectSafetensors prints names, dtypes, shapes, bytes and metadata; an invalid file rejects with the typed error', async () => {
    const p = path.join(dir, 'inspect.safetensors');
    await writeSafetensors(p, { 'conv.weight': { dtype: 'F16', shape: [8, 3, 3, 3], data: new Float32Array(216) }, step: { dtype: 'I64', shape: [], data: [7n] } }, { pytorchLayout: true, metadata: { step: '7' } });
    const text = await inspectSafetensors(p);
    expect(text).toContain('metadata: 2 key(s)');
    expect(text).toContain('"format": "pt"');
    expect(text).toMatch(/"conv\.weight"\s+F16\s+\[8, 3, 3, 3\]\s+432/);
    expect(text).toMatch(/"step"\s+I64\s+\[\]\s+8/);
    expect(text).toContain('tensors: 2, 217 elements');
    const bad = path.join(dir, 'bad.safetensors');
    fs.writeFileSync(bad, file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', 7));
    const err = await rejection(inspectSafetensors(bad));
    expect(err.message).toContain(bad);
    expect(err.message).toContain('[data-region-mismatch]');
  });
});
