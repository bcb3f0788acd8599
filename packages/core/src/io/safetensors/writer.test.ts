import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@fewstep/testing';
import { nodeAtomicWriteFs, type AtomicWriteFs, type AtomicWriteHandle } from './atomic-write.js';
import { dtypeBits, SAFETENSORS_DTYPES, type SafetensorsDtype } from './dtypes.js';
import { encodeSafetensors, type TensorToWrite } from './encode.js';
import { GOLDEN_SPECS } from './fixtures/golden-specs.js';
import { decodeSafetensors, readSafetensors, type SafetensorsContents } from './reader.js';
import { SafetensorsError } from './safetensors-error.js';
import { bytesOf, decodeTensorBytes } from './tensor-data.js';
import { writeSafetensors } from './writer.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fewstep-st-write-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const ruleOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return (e as SafetensorsError).rule;
  }
  return 'OK';
};

function specTensors(spec: (typeof GOLDEN_SPECS)[number]): Map<string, TensorToWrite> {
  const m = new Map<string, TensorToWrite>();
  for (const [name, dtype, shape, hex] of spec.tensors) {
    const numel = shape.reduce((a, b) => a * b, 1);
    m.set(name, { dtype: dtype as SafetensorsDtype, shape, data: decodeTensorBytes(dtype as SafetensorsDtype, numel, Uint8Array.from(Buffer.from(hex, 'hex'))) });
  }
  return m;
}

/** Tensors and metadata of two decoded files are identical, bit for bit. */
function expectSameContents(a: SafetensorsContents, b: SafetensorsContents): void {
  expect(a.metadata === null ? null : [...a.metadata]).toEqual(b.metadata === null ? null : [...b.metadata]);
  expect([...a.tensors.keys()]).toEqual([...b.tensors.keys()]);
  for (const [name, t] of a.tensors) {
    const u = b.tensors.get(name)!;
    expect([t.dtype, t.shape]).toEqual([u.dtype, u.shape]);
    expect(Buffer.compare(bytesOf(t.data), bytesOf(u.data))).toBe(0);
  }
}

describe('writeSafetensors / encodeSafetensors', () => {
  it(`P8: byte-identical to the reference writer on ${GOLDEN_SPECS.length} golden fixtures`, () => {
    let same = 0;
    for (const spec of GOLDEN_SPECS) {
      const golden = fs.readFileSync(new URL(`./fixtures/golden/${spec.name}.safetensors`, import.meta.url));
      const ours = encodeSafetensors(specTensors(spec), { ...(spec.metadata ? { metadata: spec.metadata } : {}), allowNonFinite: true });
      expect([spec.name, Buffer.from(ours).toString('latin1')]).toEqual([spec.name, golden.toString('latin1')]);
      same++;
    }
    console.info(`P8 figure: byte-identical fixtures ${same}/${GOLDEN_SPECS.length}`);
  });

  it('P8: hand-derived bytes: {} pads to 8 with spaces; a single tensor header is canonical', () => {
    // N = 8 (u64 LE), then "{}" + 6 spaces.
    expect(Array.from(encodeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x7d, 32, 32, 32, 32, 32, 32]);
    const b = encodeSafetensors({ a: { dtype: 'U8', shape: [2], data: [7, 9] } });
    const json = '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}'; // 53 bytes → 3 spaces → N = 56 = '8'
    expect(json.length).toBe(53);
    expect(Buffer.from(b).toString('latin1')).toBe(`8\0\0\0\0\0\0\0${json}   \u0007\u0009`);
  });

  it('P8: a metadata-only file is written as {"__metadata__":{…}} and reads back (cf. safetensors#466)', () => {
    const bytes = encodeSafetensors(new Map(), { metadata: { step: '10', note: 'x' } });
    expect(Buffer.from(bytes.subarray(8)).toString('latin1').trimEnd()).toBe('{"__metadata__":{"note":"x","step":"10"}}');
    const r = decodeSafetensors(bytes);
    expect([...r.metadata!]).toEqual([
      ['note', 'x'],
      ['step', '10'],
    ]);
    expect(r.tensors.size).toBe(0);
  });

  it('P8: property round trip — 10 000 random files over all 22 dtypes (0-d, zero-size, sub-byte, NaN payloads, hostile names) decode to the same bits and re-encode to the same bytes', () => {
    const rand = mulberry32(8);
    const int = (n: number) => Math.floor(rand() * n);
    const alphabet = ['a', 'b', '.', '_', '0', '\u0000', '"', '\\', 'é', '\u{1F600}', '\uFFFD', '__proto__', 'constructor', ' ', '\n', '/'];
    let cases = 0;
    for (let c = 0; c < 10_000; c++) {
      const tensors = new Map<string, TensorToWrite>();
      const count = int(5);
      for (let k = 0; k < count; k++) {
        const name = Array.from({ length: int(4) }, () => alphabet[int(alphabet.length)]).join('');
        const dtype = SAFETENSORS_DTYPES[int(SAFETENSORS_DTYPES.length)] as SafetensorsDtype;
        const shape = Array.from({ length: dtypeBits(dtype) < 8 ? 1 + int(3) : int(4) }, () => int(4));
        if (dtypeBits(dtype) < 8) shape[shape.length - 1] = 4 * int(2); // whole bytes
        const numel = shape.reduce((a, b) => a * b, 1);
        const bytes = Uint8Array.from({ length: (numel * dtypeBits(dtype)) / 8 }, () => int(256));
        tensors.set(name, { dtype, shape, data: decodeTensorBytes(dtype, numel, bytes) });
      }
      const metadata = rand() < 0.5 ? undefined : new Map(Array.from({ length: int(3) }, () => [alphabet[int(alphabet.length)] as string, String(int(1e6))]));
      const file = encodeSafetensors(tensors, { ...(metadata ? { metadata } : {}), allowNonFinite: true });
      const back = decodeSafetensors(file);
      expect(back.tensors.size).toBe(tensors.size);
      for (const [name, t] of tensors) {
        const u = back.tensors.get(name)!;
        expect(u.dtype).toBe(t.dtype);
        expect(u.shape).toEqual(t.shape);
        expect(Buffer.compare(bytesOf(u.data), bytesOf(t.data as Uint8Array))).toBe(0);
      }
      const again = encodeSafetensors(back.tensors, { ...(back.metadata ? { metadata: back.metadata } : {}), allowNonFinite: true });
      expect(Buffer.compare(again, file)).toBe(0);
      cases++;
    }
    console.info(`P8 figure: ${cases} round-trip property cases, 0 failures`);
  });

  it('P9: pytorchLayout writes __metadata__.format = "pt" (merged with user metadata; a conflicting format is refused)', async () => {
    const p = path.join(dir, 'pt.safetensors');
    await writeSafetensors(p, { w: { dtype: 'F32', shape: [1], data: [1] } }, { pytorchLayout: true, metadata: { step: '3' } });
    expect([...(await readSafetensors(p)).metadata!]).toEqual([
      ['format', 'pt'],
      ['step', '3'],
    ]);
    expect(ruleOf(() => encodeSafetensors({}, { pytorchLayout: true, metadata: { format: 'tf' } }))).toBe('invalid-metadata');
    expect(Buffer.from(encodeSafetensors({}, { pytorchLayout: true })).toString('latin1', 8).trimEnd()).toBe('{"__metadata__":{"format":"pt"}}');
  });

  it('P10: NaN/±Inf and F16/BF16 overflow are refused by default, naming tensor, count and index; allowNonFinite writes them', async () => {
    const err = (() => {
      try {
        encodeSafetensors({ ok: { dtype: 'F32', shape: [2], data: [1, 2] }, bad: { dtype: 'F32', shape: [3], data: [1, NaN, Infinity] } });
      } catch (e) {
        return e as SafetensorsError;
      }
      throw new Error('no error');
    })();
    expect(err.rule).toBe('non-finite');
    expect(err.message).toMatch(/"bad": 2 value\(s\), first at index 1.*allowNonFinite/);
    expect(ruleOf(() => encodeSafetensors({ h: { dtype: 'F16', shape: [1], data: [70000] } }))).toBe('non-finite');
    expect(ruleOf(() => encodeSafetensors({ h: { dtype: 'F16', shape: [1], data: [65504] } }))).toBe('OK');
    expect(ruleOf(() => encodeSafetensors({ h: { dtype: 'BF16', shape: [1], data: [3.4e38] } }))).toBe('non-finite');
    expect(ruleOf(() => encodeSafetensors({ d: { dtype: 'F64', shape: [1], data: [-Infinity] } }))).toBe('non-finite');
    expect(ruleOf(() => encodeSafetensors({ c: { dtype: 'C64', shape: [1], data: [0, NaN] } }))).toBe('non-finite');
    const p = path.join(dir, 'nan.safetensors');
    await expect(writeSafetensors(p, { x: { dtype: 'F32', shape: [1], data: [NaN] } })).rejects.toThrow(/non-finite/);
    expect(fs.existsSync(p)).toBe(false);
    await writeSafetensors(p, { x: { dtype: 'F32', shape: [1], data: [NaN] } }, { allowNonFinite: true });
    expect((await readSafetensors(p)).tensors.get('x')?.nonFinite).toBe(1);
  });

  it('refuses bad inputs with typed errors before writing (InvalidTensorView, names, dtype, shape, header cap)', () => {
    const one = (t: unknown) => ruleOf(() => encodeSafetensors({ t: t as TensorToWrite }));
    expect(one({ dtype: 'F32', shape: [2, 2], data: new Float32Array(3) })).toBe('invalid-tensor-view');
    expect(one({ dtype: 'F32', shape: [1], data: new Int32Array(1) })).toBe('invalid-tensor-view');
    expect(one({ dtype: 'I8', shape: [1], data: [200] })).toBe('invalid-tensor-view');
    expect(one({ dtype: 'I64', shape: [1], data: [2 ** 60] })).toBe('invalid-tensor-view');
    expect(one({ dtype: 'U64', shape: [1], data: [-1n] })).toBe('invalid-tensor-view');
    expect(one({ dtype: 'F8_E4M3', shape: [1], data: [1] })).toBe('invalid-tensor-view');
    expect(one({ dtype: 'F4', shape: [3], data: new Uint8Array(2) })).toBe('misaligned-slice');
    expect(one({ dtype: 'F128', shape: [1], data: [1] })).toBe('unknown-dtype');
    expect(one({ dtype: 'F32', shape: [-1], data: [] })).toBe('invalid-shape');
    expect(one({ dtype: 'F32', shape: [2 ** 30, 2 ** 30], data: [] })).toBe('size-overflow');
    expect(one(null)).toBe('invalid-tensor-view');
    expect(ruleOf(() => encodeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: [] } }))).toBe('invalid-name');
    expect(ruleOf(() => encodeSafetensors({ ['\ud800']: { dtype: 'U8', shape: [0], data: [] } }))).toBe('invalid-name');
    expect(ruleOf(() => encodeSafetensors({}, { metadata: { k: 1 as unknown as string } }))).toBe('invalid-metadata');
    const e = (() => {
      try {
        encodeSafetensors({ t: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } });
      } catch (x) {
        return x as SafetensorsError;
      }
      return null;
    })();
    expect(e?.referenceClass).toBe('InvalidTensorView');
    expect(e?.message).toMatch(/"t": data has 3 elements but shape \[2, 2\] needs 4/);
    expect(ruleOf(() => encodeSafetensors({}, { metadata: { big: 'x'.repeat(100_000_001) } }))).toBe('header-too-large');
  });
});

// ---------------------------------------------------------------------------------------------
// P14 / P17: crash-atomic writes, checked with fault-injecting file-system layers.

class Crash extends Error {}

/**
 * An in-memory POSIX-like file system with power-loss semantics: file data survives a crash only
 * once fsynced, and a create/rename/unlink only once its directory is fsynced. The op counter
 * lets a test crash after exactly k operations.
 */
class PowerLossFs implements AtomicWriteFs {
  private nextIno = 1;
  /** inode → [volatile bytes, durable bytes] */
  readonly inodes = new Map<number, { live: number[]; durable: number[] }>();
  readonly live = new Map<string, number>();
  durable = new Map<string, number>();
  ops = 0;
  constructor(
    private readonly crashAt: number,
    private readonly lyingSync = false,
  ) {}
  private step(): void {
    if (this.ops++ >= this.crashAt) throw new Crash('simulated crash');
  }
  seed(name: string, bytes: Uint8Array): void {
    const ino = this.nextIno++;
    this.inodes.set(ino, { live: [...bytes], durable: [...bytes] });
    this.live.set(name, ino);
    this.durable.set(name, ino);
  }
  async create(p: string): Promise<AtomicWriteHandle> {
    this.step();
    if (this.live.has(p)) throw new Error('EEXIST');
    const ino = this.nextIno++;
    const node = { live: [] as number[], durable: [] as number[] };
    this.inodes.set(ino, node);
    this.live.set(p, ino);
    return {
      write: async (d) => {
        this.step();
        // A crash in the middle of a write leaves half of it.
        if (this.ops === this.crashAt && d.length > 1) {
          node.live.push(...d.subarray(0, d.length >> 1));
          this.ops++;
          throw new Crash('crash mid-write');
        }
        node.live.push(...d);
      },
      sync: async () => {
        this.step();
        if (!this.lyingSync) node.durable = [...node.live];
      },
      close: async () => this.step(),
    };
  }
  async rename(from: string, to: string): Promise<void> {
    this.step();
    const ino = this.live.get(from);
    if (ino === undefined) throw new Error('ENOENT');
    this.live.delete(from);
    this.live.set(to, ino);
  }
  async unlink(p: string): Promise<void> {
    this.step();
    this.live.delete(p);
  }
  async syncDir(): Promise<void> {
    this.step();
    this.durable = new Map(this.live);
  }
  /** The file at `name` after the process died (mode 'crash') or the power failed ('power'). */
  view(name: string, mode: 'crash' | 'power'): Uint8Array | undefined {
    const ino = (mode === 'crash' ? this.live : this.durable).get(name);
    if (ino === undefined) return undefined;
    const n = this.inodes.get(ino)!;
    return Uint8Array.from(mode === 'crash' ? n.live : n.durable);
  }
}

describe('P14: crash-atomic single-file write', () => {
  const target = '/ckpt/model.safetensors';
  const oldBytes = encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: [1, 2] } }, { metadata: { step: '1' } });
  const newTensors = { w: { dtype: 'F32' as const, shape: [2], data: [3, 4] }, b: { dtype: 'F16' as const, shape: [3], data: [5, 6, 7] } };
  const newBytes = encodeSafetensors(newTensors, { metadata: { step: '2' } });

  async function run(crashAt: number, lyingSync = false): Promise<PowerLossFs> {
    const fsm = new PowerLossFs(crashAt, lyingSync);
    fsm.seed(target, oldBytes);
    await writeSafetensors(target, newTensors, { metadata: { step: '2' }, fs: fsm }).catch((e: unknown) => {
      expect(e).toBeInstanceOf(SafetensorsError);
    });
    return fsm;
  }

  it('P14: a crash at every step × {process crash, power loss} leaves the old file or the new file, never an invalid or mixed one', async () => {
    const total = (await run(Number.MAX_SAFE_INTEGER)).ops; // create, 3 writes, sync, close, rename, syncDir
    expect(total).toBe(8);
    let tried = 0;
    let bad = 0;
    for (let k = 0; k <= total; k++) {
      const fsm = await run(k);
      for (const mode of ['crash', 'power'] as const) {
        tried++;
        const bytes = fsm.view(target, mode);
        const ok = bytes !== undefined && (Buffer.compare(bytes, oldBytes) === 0 || Buffer.compare(bytes, newBytes) === 0);
        if (!ok) bad++;
        if (bytes !== undefined) decodeSafetensors(bytes); // always loadable
      }
      // After a completed save the new file is durable.
      if (k === total) expect(Buffer.compare(fsm.view(target, 'power')!, newBytes)).toBe(0);
    }
    expect(bad).toBe(0);
    console.info(`P14 figure: ${tried} crash points × modes tried, 0 invalid-or-wrong loads`);
  });

  it('P14 non-vacuity: on a disk whose fsync lies, the same harness detects a torn file after power loss', async () => {
    const fsm = await run(7, true); // crash right after the rename, before the dir fsync ... then
    fsm.durable = new Map(fsm.live); // ... the rename reached the disk but the data did not
    const bytes = fsm.view(target, 'power')!;
    expect(Buffer.compare(bytes, newBytes)).not.toBe(0);
    expect(() => decodeSafetensors(bytes)).toThrow(SafetensorsError);
  });
});

describe('P17: I/O errors during save are reported and leave no temp file', () => {
  it('ENOSPC/EIO at each call: typed error, old file intact, no orphan temp files', async () => {
    const target = path.join(dir, 'p17.safetensors');
    const oldBytes = encodeSafetensors({ w: { dtype: 'U8', shape: [1], data: [1] } });
    const steps = ['create', 'write:0', 'write:1', 'sync', 'close', 'rename', 'syncDir'] as const;
    let injected = 0;
    let silent = 0;
    for (const step of steps) {
      for (const code of ['ENOSPC', 'EIO']) {
        fs.writeFileSync(target, oldBytes);
        let writes = 0;
        const fail = (): never => {
          injected++;
          throw Object.assign(new Error(`${code}: injected at ${step}`), { code });
        };
        const faulty: AtomicWriteFs = {
          async create(p) {
            if (step === 'create') fail();
            const h = await nodeAtomicWriteFs.create(p);
            return {
              write: async (d) => {
                if (step === `write:${writes++}`) fail();
                await h.write(d);
              },
              sync: async () => (step === 'sync' ? fail() : h.sync()),
              close: async () => {
                await h.close();
                if (step === 'close') fail();
              },
            };
          },
          rename: async (a, b) => (step === 'rename' ? fail() : nodeAtomicWriteFs.rename(a, b)),
          unlink: (p) => nodeAtomicWriteFs.unlink(p),
          syncDir: async (d) => (step === 'syncDir' ? fail() : nodeAtomicWriteFs.syncDir(d)),
        };
        let err: unknown;
        try {
          await writeSafetensors(target, { w: { dtype: 'U8', shape: [1], data: [2] } }, { fs: faulty });
        } catch (e) {
          err = e;
        }
        if (!(err instanceof SafetensorsError)) silent++;
        expect((err as SafetensorsError).rule).toBe('io-error');
        expect(((err as SafetensorsError).cause as NodeJS.ErrnoException).code).toBe(code);
        const now = fs.readFileSync(target);
        // Before the rename the old file is untouched; a failing directory fsync comes after it.
        expect(now.equals(Buffer.from(step === 'syncDir' ? encodeSafetensors({ w: { dtype: 'U8', shape: [1], data: [2] } }) : oldBytes))).toBe(true);
        expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
      }
    }
    expect(silent).toBe(0);
    console.info(`P17 figure: ${injected} injected faults, 0 silent failures, 0 orphan temp files`);
  });

  it('P14: the temp file lives in the target directory (never the system temp dir)', async () => {
    const seen: string[] = [];
    const spy: AtomicWriteFs = { ...nodeAtomicWriteFs, create: (p) => (seen.push(p), nodeAtomicWriteFs.create(p)) };
    const target = path.join(dir, 'where.safetensors');
    await writeSafetensors(target, {}, { fs: spy });
    expect(path.dirname(seen[0]!)).toBe(dir);
    expect(path.basename(seen[0]!)).toMatch(new RegExp(`^where\\.safetensors\\.tmp-${process.pid}-[0-9a-f]{12}$`));
  });
});
