import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeAtomicWriteFs, type AtomicWriteFs } from '../io/safetensors/atomic-write.js';
import { CheckpointError } from './checkpoint-error.js';
import { canonicalJson, jsonDifferences, sha256Hex, canonicalize } from './canonical-json.js';
import { findLatestCheckpoint } from './find-latest-checkpoint.js';
import { parseManifest } from './manifest.js';
import { readCheckpoint } from './read-checkpoint.js';
import { listStepDirs, stepDirName, parseStepDirName } from './step-dir.js';
import { writeCheckpoint, type CheckpointFileContent } from './write-checkpoint.js';

const tmp = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'fewstep-ckpt-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const freshRoot = (): string => nodePath.join(tmp, `root-${n++}`);

const HASH = 'a'.repeat(64);
const OTHER = 'b'.repeat(64);

function files(step: number, size = 300): Map<string, CheckpointFileContent> {
  const w = new Float32Array(size).map((_, i) => Math.sin(i + step));
  return new Map<string, CheckpointFileContent>([
    ['weights.g.safetensors', { kind: 'safetensors', tensors: { 'fc.kernel': { dtype: 'F32', shape: [size], data: w } }, metadata: { step: String(step) } }],
    ['optimizer.g.safetensors', { kind: 'safetensors', tensors: {} }],
    ['state.json', { kind: 'json', value: { step, cursor: { epoch: 0, index: step } } }],
  ]);
}

const write = (root: string, step: number, extra: { keepLast?: number; configHash?: string; fs?: AtomicWriteFs } = {}) =>
  writeCheckpoint({ root, step, configHash: extra.configHash ?? HASH, files: files(step), ...(extra.keepLast ? { keepLast: extra.keepLast } : {}), ...(extra.fs ? { fs: extra.fs } : {}) });

async function tempFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) if (/\.tmp-|\.deleting-/.test(e.name)) out.push(e.name);
  return out;
}

describe('checkpoint directories', () => {
  it('names step directories so they sort by step', () => {
    expect(stepDirName(120)).toBe('step-000120');
    expect(stepDirName(12345678)).toBe('step-12345678');
    expect(parseStepDirName('step-000120')).toBe(120);
    expect(parseStepDirName('step-12')).toBeUndefined();
    expect(parseStepDirName('step-000120.deleting-ab')).toBeUndefined();
  });

  it('writes every file, then a manifest with size and SHA-256 of each; reads it back verified', async () => {
    const root = freshRoot();
    const w = await write(root, 6);
    expect(w.path).toBe(nodePath.join(root, 'step-000006'));
    expect(Object.keys(w.manifest.files).sort()).toEqual(['optimizer.g.safetensors', 'state.json', 'weights.g.safetensors']);
    for (const [name, e] of Object.entries(w.manifest.files)) {
      const bytes = await fsp.readFile(nodePath.join(w.path, name));
      expect(e.bytes).toBe(bytes.length);
      expect(e.sha256).toBe(sha256Hex(bytes));
    }
    const c = await readCheckpoint(w.path, { configHash: HASH });
    expect(c.step).toBe(6);
    expect(c.json.get('state.json')).toEqual({ step: 6, cursor: { epoch: 0, index: 6 } });
    const t = c.tensors.get('weights.g.safetensors')!.tensors.get('fc.kernel')!;
    expect(Array.from(t.data as Float32Array).slice(0, 3)).toEqual(Array.from(new Float32Array([Math.sin(6), Math.sin(7), Math.sin(8)])));
    expect(await tempFiles(root)).toEqual([]);
  });

  it('P25: auto-resume picks the newest VALID checkpoint and says why it skipped each newer one', async () => {
    const root = freshRoot();
    await write(root, 2);
    // step 4: uncommitted (killed before the manifest)
    const w4 = await write(root, 4);
    await fsp.unlink(nodePath.join(w4.path, 'manifest.json'));
    // step 6: one flipped bit in a tensor
    const w6 = await write(root, 6);
    const p6 = nodePath.join(w6.path, 'weights.g.safetensors');
    const b6 = await fsp.readFile(p6);
    b6[b6.length - 5]! ^= 0x10;
    await fsp.writeFile(p6, b6);
    // step 8: truncated file
    const w8 = await write(root, 8);
    await fsp.truncate(nodePath.join(w8.path, 'weights.g.safetensors'), 100);
    // step 10: written by another config / architecture
    await write(root, 10, { configHash: OTHER });
    const found = await findLatestCheckpoint(root, { configHash: HASH });
    expect(found.checkpoint?.step).toBe(2);
    expect(found.skipped.map((s) => [s.step, s.problem])).toEqual([
      [10, 'config-mismatch'],
      [8, 'size-mismatch'],
      [6, 'hash-mismatch'],
      [4, 'missing-manifest'],
    ]);
    for (const s of found.skipped) expect(s.reason).toMatch(/Checkpoint .*step-0000\d\d: \[/);
    expect(found.skipped[1]!.reason).toMatch(/'weights.g.safetensors' has 100 bytes, the manifest says \d+ \(truncated or extended\)/);
    // an `accept` veto is a skip too
    const vetoed = await findLatestCheckpoint(root, {
      configHash: HASH,
      accept: (c) => {
        if (c.step === 2) throw new CheckpointError('state-mismatch', c.path, 'vetoed');
      },
    });
    expect(vetoed.checkpoint).toBeUndefined();
    expect(vetoed.skipped.at(-1)!.problem).toBe('state-mismatch');
  });

  it('P26: every single-bit flip and every zeroed 4 KiB page of the data region is detected by the manifest hash', async () => {
    const root = freshRoot();
    const w = await writeCheckpoint({ root, step: 1, configHash: HASH, files: files(1, 3000) });
    const path = nodePath.join(w.path, 'weights.g.safetensors');
    const original = await fsp.readFile(path);
    const rand = (() => {
      let s = 99;
      return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
    })();
    let tried = 0;
    let detected = 0;
    for (let i = 0; i < 64; i++) {
      const b = Buffer.from(original);
      if (i < 60) {
        const at = 8 + Math.floor(rand() * (b.length - 8));
        b[at]! ^= 1 << Math.floor(rand() * 8);
      } else {
        const page = 8 + (i - 60) * 2048;
        b.fill(0, page, Math.min(b.length, page + 4096));
        if (b.equals(original)) continue;
      }
      await fsp.writeFile(path, b);
      tried++;
      const e = await readCheckpoint(w.path).catch((x: unknown) => x);
      if (e instanceof CheckpointError && e.problem === 'hash-mismatch') detected++;
    }
    await fsp.writeFile(path, original);
    await expect(readCheckpoint(w.path)).resolves.toBeTruthy();
    expect(detected).toBe(tried);
    expect(tried).toBeGreaterThanOrEqual(60);
  });

  it('P16: keepLast deletes older checkpoints only after the newer one is committed, and cleans killed leftovers', async () => {
    const root = freshRoot();
    await write(root, 2, { keepLast: 1 });
    await write(root, 4, { keepLast: 1 });
    expect((await listStepDirs(root)).map((d) => d.step)).toEqual([4]);
    // leftovers of a killed save (uncommitted) and of a killed delete
    await fsp.mkdir(nodePath.join(root, 'step-000005'));
    await fsp.writeFile(nodePath.join(root, 'step-000005', 'weights.g.safetensors.tmp-1-ab'), 'x');
    await fsp.mkdir(nodePath.join(root, 'step-000003.deleting-abcd'));
    // A save that fails at its manifest (disk full) keeps step 4 intact and removes its own directory.
    const failing: AtomicWriteFs = {
      ...nodeAtomicWriteFs,
      async create(path) {
        if (path.includes('manifest.json')) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        return nodeAtomicWriteFs.create(path);
      },
    };
    const err = await write(root, 6, { keepLast: 1, fs: failing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).problem).toBe('io-error');
    expect((err as CheckpointError).message).toMatch(/ENOSPC/);
    expect((await findLatestCheckpoint(root, { configHash: HASH })).checkpoint?.step).toBe(4);
    expect((await listStepDirs(root)).map((d) => d.step)).toEqual([5, 4]);
    await write(root, 8, { keepLast: 1 });
    expect((await listStepDirs(root)).map((d) => d.step)).toEqual([8]);
    expect(await fsp.readdir(root)).toEqual(['step-000008']);
  });

  it('P17: an I/O error at any write call is reported as a typed error, leaves the previous checkpoint intact and no temp files', async () => {
    const root = freshRoot();
    await write(root, 2);
    let calls = 0;
    const counting: AtomicWriteFs = {
      ...nodeAtomicWriteFs,
      async create(path) {
        const h = await nodeAtomicWriteFs.create(path);
        return { ...h, write: async (d) => (calls++, h.write(d)) };
      },
    };
    await write(freshRoot(), 1, { fs: counting });
    const total = calls;
    expect(total).toBeGreaterThanOrEqual(4);
    for (let failAt = 0; failAt < total; failAt++) {
      for (const code of ['ENOSPC', 'EIO']) {
        let k = 0;
        const faulty: AtomicWriteFs = {
          ...nodeAtomicWriteFs,
          async create(path) {
            const h = await nodeAtomicWriteFs.create(path);
            return {
              ...h,
              write: async (d) => {
                if (k++ === failAt) throw Object.assign(new Error(`${code}: injected`), { code });
                return h.write(d);
              },
            };
          },
        };
        const e = await write(root, 4, { fs: faulty }).catch((x: unknown) => x);
        expect(e).toBeInstanceOf(CheckpointError);
        expect((e as CheckpointError).message).toContain(code);
        expect((await findLatestCheckpoint(root, { configHash: HASH })).checkpoint?.step).toBe(2);
        expect(await tempFiles(root)).toEqual([]);
        expect((await listStepDirs(root)).map((d) => d.step)).toEqual([2]);
      }
    }
  });

  it('P12: manifests naming files outside the directory, symlinks or FIFOs are refused', async () => {
    const root = freshRoot();
    const w = await write(root, 3);
    const mpath = nodePath.join(w.path, 'manifest.json');
    const m = JSON.parse(await fsp.readFile(mpath, 'utf8')) as { files: Record<string, unknown> };
    for (const bad of ['../x.json', '/etc/passwd', 'sub/x.json', '.hidden', '__proto__']) {
      const copy = { ...m, files: { ...m.files, [bad]: { bytes: 1, sha256: 'c'.repeat(64) } } };
      expect(() => parseManifest(JSON.stringify(copy), w.path)).toThrow(/unsafe-path/);
    }
    // a listed file replaced by a symlink
    const target = nodePath.join(w.path, 'state.json');
    const moved = nodePath.join(tmp, `state-${n++}.json`);
    await fsp.rename(target, moved);
    await fsp.symlink(moved, target);
    await expect(readCheckpoint(w.path)).rejects.toThrow(/\[unsafe-path\] 'state.json' is not a regular file/);
  });

  it('rejects manifests with bad fields and a step that differs from the directory name', async () => {
    expect(() => parseManifest('{', 'd')).toThrow(/invalid-manifest.*not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ format: 'other' }), 'd')).toThrow(/'format'/);
    const root = freshRoot();
    const w = await write(root, 5);
    await fsp.rename(w.path, nodePath.join(root, 'step-000009'));
    await expect(readCheckpoint(nodePath.join(root, 'step-000009'))).rejects.toThrow(/manifest step 5 differs from the directory name \(step 9\)/);
    await expect(readCheckpoint(nodePath.join(root, 'nope'))).rejects.toThrow(/\[not-found\]/);
  });
});

describe('canonical JSON', () => {
  it('sorts keys, drops undefined, names functions, keeps the hash stable', () => {
    function compute() {}
    const a = canonicalJson({ b: 1, a: [1, { y: undefined, x: NaN }], f: compute, m: new Map([['z', 1], ['a', 2]]) });
    expect(a).toBe('{"a":[1,{"x":"NaN"}],"b":1,"f":"[function compute]","m":{"a":2,"z":1}}');
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
    const cyc: Record<string, unknown> = {};
    cyc['self'] = cyc;
    expect(() => canonicalize(cyc)).toThrow(/cycle/);
  });

  it('lists the differing leaves with paths', () => {
    const found = canonicalize({ roles: { g: { 'fc.kernel': { shape: [4, 16] } } }, phases: [{ every: 1 }, { every: 2, lr: 1e-3 }] });
    const expected = canonicalize({ roles: { g: { 'fc.kernel': { shape: [4, 8] } } }, phases: [{ every: 1 }, { every: 2, lr: 2e-3 }] });
    expect(jsonDifferences(found, expected)).toEqual([
      { path: 'phases[1].lr', found: '0.001', expected: '0.002' },
      { path: 'roles.g["fc.kernel"].shape', found: '[4,16]', expected: '[4,8]' },
    ]);
  });
});
