import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSafetensors } from './encode.js';
import { inspectSafetensors } from './inspect.js';
import { SafetensorsError } from './safetensors-error.js';
import { readSafetensorsIndex, readShardedSafetensors, writeShardedSafetensors } from './sharded.js';

let root: string;
beforeAll(() => {
  root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'fewstep-st-shard-')));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

async function rule(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    if (!(e instanceof SafetensorsError)) throw e;
    return e.rule;
  }
}

const tensors = {
  'b.weight': { dtype: 'F32' as const, shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i) },
  'a.weight': { dtype: 'F32' as const, shape: [8], data: Float32Array.from({ length: 8 }, (_, i) => -i) },
  'c.bias': { dtype: 'F16' as const, shape: [3], data: [1, 2, 3] },
  step: { dtype: 'I64' as const, shape: [], data: [42n] },
};

describe('sharded checkpoints (model.safetensors.index.json)', () => {
  it('writes shards by max bytes plus an index written last, and reads them back', async () => {
    const dir = path.join(root, 'ok');
    fs.mkdirSync(dir);
    const { indexPath, shards, totalSize } = await writeShardedSafetensors(dir, tensors, { maxShardBytes: 64, pytorchLayout: true });
    expect(shards).toEqual(['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
    expect(totalSize).toBe(8 + 64 + 32 + 6);
    const index = JSON.parse(fs.readFileSync(indexPath, 'utf8')) as { metadata: { total_size: number }; weight_map: Record<string, string> };
    expect(index.metadata.total_size).toBe(totalSize);
    expect(Object.keys(index.weight_map)).toEqual(['a.weight', 'b.weight', 'c.bias', 'step']);
    const r = await readShardedSafetensors(indexPath);
    expect(r.metadata?.get('format')).toBe('pt');
    expect(r.tensors.get('b.weight')?.data).toEqual(tensors['b.weight'].data);
    expect(r.tensors.get('c.bias')?.data).toEqual(Float32Array.of(1, 2, 3));
    expect(r.tensors.get('step')?.data).toEqual(BigInt64Array.of(42n));
    expect([...(await readShardedSafetensors(indexPath, { names: ['a.weight'] })).tensors.keys()]).toEqual(['a.weight']);
    expect(await rule(readShardedSafetensors(indexPath, { names: ['nope'] }))).toBe('tensor-not-found');
    const text = await inspectSafetensors(indexPath);
    expect(text).toMatch(/checkpoint \(sharded\)/);
    expect(text).toMatch(/"a\.weight"\s+F32\s+\[8\]\s+32\s+model-00001-of-00003\.safetensors/);
  });

  it('P12: every index path must resolve inside the checkpoint directory (traversal, absolute, symlinks, FIFOs, devices) — rejected before open', async () => {
    const dir = path.join(root, 'ck');
    fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
    const shard = encodeSafetensors({ w: { dtype: 'U8', shape: [1], data: [1] } });
    fs.writeFileSync(path.join(dir, 'model.safetensors'), shard);
    fs.writeFileSync(path.join(root, 'outside.safetensors'), shard);
    fs.symlinkSync('../outside.safetensors', path.join(dir, 'escape.safetensors'));
    fs.symlinkSync('/etc/passwd', path.join(dir, 'passwd.safetensors'));
    fs.symlinkSync('model.safetensors', path.join(dir, 'alias.safetensors')); // inside: fine
    let fifo = true;
    try {
      execFileSync('mkfifo', [path.join(dir, 'fifo.safetensors')]);
    } catch {
      fifo = false;
    }
    const cases: [string, string][] = [
      ['../outside.safetensors', 'path-escape'],
      [path.join(root, 'outside.safetensors'), 'path-escape'],
      ['/etc/passwd', 'path-escape'],
      ['sub/../../outside.safetensors', 'path-escape'],
      ['sub/../model.safetensors', 'path-escape'], // any '..' segment, even one that stays inside
      ['..\\outside.safetensors', 'path-escape'],
      ['C:/x.safetensors', 'path-escape'],
      ['a\u0000b', 'path-escape'],
      ['', 'path-escape'],
      ['escape.safetensors', 'path-escape'],
      ['passwd.safetensors', 'path-escape'],
      ['sub', 'not-a-regular-file'],
      ['/dev/zero', 'path-escape'],
      ['missing.safetensors', 'shard-missing'],
      ...(fifo ? [['fifo.safetensors', 'not-a-regular-file'] as [string, string]] : []),
    ];
    let accepted = 0;
    for (const [shardName, expected] of cases) {
      const indexPath = path.join(dir, 'model.safetensors.index.json');
      fs.writeFileSync(indexPath, JSON.stringify({ metadata: { total_size: 1 }, weight_map: { w: shardName } }));
      const got = await rule(readShardedSafetensors(indexPath));
      if (got === 'OK') accepted++;
      expect([shardName, got]).toEqual([shardName, expected]);
    }
    expect(accepted).toBe(0);
    console.info(`P12 figure: traversal cases tried / accepted = ${cases.length} / ${accepted}`);
    // Legit relative forms still work.
    for (const ok of ['model.safetensors', './model.safetensors', 'alias.safetensors']) {
      const indexPath = path.join(dir, 'model.safetensors.index.json');
      fs.writeFileSync(indexPath, JSON.stringify({ weight_map: { w: ok } }));
      expect([ok, await rule(readShardedSafetensors(indexPath))]).toEqual([ok, 'OK']);
    }
  });

  it('P12: each tensor in exactly one shard, every listed tensor present, every listed shard existing', async () => {
    const dir = path.join(root, 'mismatch');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 's1.safetensors'), encodeSafetensors({ w: { dtype: 'U8', shape: [1], data: [1] }, x: { dtype: 'U8', shape: [1], data: [2] } }));
    fs.writeFileSync(path.join(dir, 's2.safetensors'), encodeSafetensors({ w: { dtype: 'U8', shape: [1], data: [3] } }));
    const idx = path.join(dir, 'model.safetensors.index.json');
    const check = async (index: string): Promise<string> => {
      fs.writeFileSync(idx, index);
      return rule(readShardedSafetensors(idx));
    };
    expect(await check('{"weight_map":{"w":"s1.safetensors","x":"s1.safetensors"}}')).toBe('OK');
    expect(await check('{"weight_map":{"w":"s1.safetensors"}}')).toBe('index-mismatch'); // x unlisted
    expect(await check('{"weight_map":{"w":"s2.safetensors","x":"s1.safetensors"}}')).toBe('index-mismatch'); // w in two shards
    expect(await check('{"weight_map":{"w":"s1.safetensors","x":"s1.safetensors","y":"s1.safetensors"}}')).toBe('index-mismatch'); // y missing
    expect(await check('{"weight_map":{"w":"s1.safetensors","w":"s2.safetensors"}}')).toBe('duplicate-key');
    expect(await check('{"weight_map":{"w":1}}')).toBe('invalid-index');
    expect(await check('{"weight_map":[]}')).toBe('invalid-index');
    expect(await check('{"metadata":{"total_size":-1},"weight_map":{}}')).toBe('invalid-index');
    expect(await check('{"weight_map":{}} x')).toBe('invalid-json');
    expect(await check('{"metadata":{"total_size":3,"format":"pt"},"weight_map":{}}')).toBe('OK');
    expect((await readSafetensorsIndex(idx)).metadata.get('format')).toBe('pt');
  });
});
