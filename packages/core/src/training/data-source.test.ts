import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { generatedDataSource, inMemoryDataSource, INITIAL_CURSOR, type DataCursor, type DataSource } from './data-source.js';
import { StepRandom, streamSeed } from './random-streams.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

async function read(source: DataSource, from: DataCursor, n: number, seed: number): Promise<{ bytes: number[][]; cursor: DataCursor }> {
  const bytes: number[][] = [];
  let cursor = from;
  for (let i = 0; i < n; i++) {
    const b = await source.next(cursor, seed);
    bytes.push(Array.from(await b.tensors['x']!.data()));
    for (const t of Object.values(b.tensors)) t.dispose();
    cursor = b.next;
  }
  return { bytes, cursor };
}

describe('P22: data order is resumable', () => {
  it('re-reading from a saved (JSON round-tripped) cursor gives the same next 8 batches, across an epoch boundary', async () => {
    const x = tf.tensor2d(Array.from({ length: 10 * 3 }, (_, i) => i), [10, 3]);
    const source = inMemoryDataSource({ tensors: { x }, batchSize: 3 });
    const before = tf.memory().numTensors;
    const all = await read(source, INITIAL_CURSOR, 16, 5);
    for (const m of [0, 2, 3, 5, 7]) {
      const saved = JSON.parse(JSON.stringify((await read(source, INITIAL_CURSOR, m, 5)).cursor)) as DataCursor;
      // a fresh source object (as in a new process)
      const again = await read(inMemoryDataSource({ tensors: { x }, batchSize: 3 }), saved, 8, 5);
      expect(again.bytes).toEqual(all.bytes.slice(m, m + 8));
    }
    expect(tf.memory().numTensors).toBe(before);
    // 3 batches per epoch (remainder dropped), each epoch a permutation of 9 of the 10 rows, reshuffled.
    const rows = (k: number): number[] => all.bytes.slice(3 * k, 3 * k + 3).flatMap((b) => [b[0]! / 3, b[3]! / 3, b[6]! / 3]);
    expect(new Set(rows(0)).size).toBe(9);
    expect(rows(0)).not.toEqual(rows(1));
    expect((await read(source, INITIAL_CURSOR, 4, 5)).cursor).toEqual({ epoch: 1, index: 1 });
    // another seed, another order
    expect((await read(source, INITIAL_CURSOR, 3, 6)).bytes).not.toEqual(all.bytes.slice(0, 3));
    x.dispose();
  });

  it('generated sources are a function of (seed, epoch, index)', async () => {
    const source = generatedDataSource({ name: 'data:noise', batchesPerEpoch: 4, make: (_, rng) => ({ x: tf.tensor1d([rng(), rng()]) }) });
    const a = await read(source, INITIAL_CURSOR, 10, 1);
    const b = await read(source, { epoch: 1, index: 2 }, 4, 1);
    expect(b.bytes).toEqual(a.bytes.slice(6, 10));
    expect(() => inMemoryDataSource({ tensors: {}, batchSize: 1 })).toThrow(ConfigError);
  });
});

describe('P23: randomness is owned and replayable', () => {
  it('streams are functions of (seed, step, stream); seed 0 is a valid seed', () => {
    const draw = (seed: number, step: number, stream: string): number[] => {
      const r = new StepRandom(seed, step, 'phase').rng(stream);
      return [r(), r(), r()];
    };
    expect(draw(0, 5, 'noise')).toEqual(draw(0, 5, 'noise'));
    expect(draw(0, 5, 'noise')).not.toEqual(draw(1, 5, 'noise'));
    expect(draw(0, 5, 'noise')).not.toEqual(draw(0, 6, 'noise'));
    expect(draw(0, 5, 'noise')).not.toEqual(draw(0, 5, 't'));
    expect(streamSeed(0, 0, 'x')).not.toBe(0);
    // Same stream name within a phase continues; a new StepRandom (a resumed process) restarts at the same place.
    const registry = new Set<string>();
    const r = new StepRandom(7, 3, 'generator', registry);
    const n1 = Array.from(r.normal([4], 'z').dataSync());
    const n2 = Array.from(r.normal([4], 'z').dataSync());
    expect(n1).not.toEqual(n2);
    expect(Array.from(new StepRandom(7, 3, 'generator').normal([4], 'z').dataSync())).toEqual(n1);
    expect([...registry]).toEqual(['generator/z']);
    const u = Array.from(r.uniform([1000], 'u', 0.1, 1).dataSync());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0.1);
    expect(Math.max(...u)).toBeLessThan(1);
    tf.disposeVariables();
  });
});
