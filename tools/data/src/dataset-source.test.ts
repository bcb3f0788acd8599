import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, INITIAL_CURSOR, inMemoryDataSource, type DataCursor, type DataSource } from '@fewstep/core';
import { epochPermutation, shapesVideoSource, videoFolderSource } from './dataset-source.js';
import { ShapesImages, ShapesVideo } from './shapes-video.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const SPEC = 'shapes-video:frames=3,size=12,seed=4,n=10';

/** Reads `count` batches from `cursor`, returning every key's bytes and the cursors after each. */
async function read(src: DataSource, cursor: DataCursor, count: number, seed: number): Promise<{ batches: Record<string, number[]>[]; cursors: DataCursor[] }> {
  const batches: Record<string, number[]>[] = [];
  const cursors: DataCursor[] = [];
  for (let i = 0; i < count; i++) {
    const { tensors, next } = await src.next(cursor, seed);
    const bytes: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(tensors)) {
      const d = t.dataSync() as Float32Array | Int32Array;
      bytes[k] = Array.from(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      bytes[`${k}:shape`] = t.shape;
      t.dispose();
    }
    batches.push(bytes);
    cursors.push(next);
    cursor = next;
  }
  return { batches, cursors };
}

describe('shapesVideoSource', () => {
  it('resumes bit-exactly from a cursor in a fresh source, across an epoch boundary', async () => {
    const opts = { batchSize: 3, labels: true, tokens: true, images: 'sharp' as const };
    const before = tf.memory().numTensors;
    const straight = await read(shapesVideoSource(SPEC, opts), INITIAL_CURSOR, 6, 11);
    // 10 items, batch 3, remainder dropped: 3 batches per epoch, so batches 3..5 are epoch 1.
    expect(straight.cursors.map((c) => [c.epoch, c.index])).toEqual([[0, 1], [0, 2], [0, 3], [1, 1], [1, 2], [1, 3]]);
    const first = await read(shapesVideoSource(SPEC, opts), INITIAL_CURSOR, 3, 11);
    const saved = JSON.parse(JSON.stringify(first.cursors[2])) as DataCursor;
    const resumed = await read(shapesVideoSource(SPEC, opts), saved, 3, 11);
    expect(first.batches).toEqual(straight.batches.slice(0, 3));
    expect(resumed.batches).toEqual(straight.batches.slice(3));
    expect(resumed.cursors).toEqual(straight.cursors.slice(3));
    // The batches are not all alike (a vacuous comparison would pass too).
    expect(new Set(straight.batches.map((b) => JSON.stringify(b['x0']))).size).toBe(6);
    expect(straight.batches[0]!['x0:shape']).toEqual([3, 3, 12, 12, 3]);
    expect(straight.batches[0]!['labels:shape']).toEqual([3, 3, 3]);
    expect(straight.batches[0]!['tokens:shape']).toEqual([3, 17]);
    expect(straight.batches[0]!['images:shape']).toEqual([3, 12, 12, 3]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('holds the permuted items, reshuffles every epoch and depends on the run seed', async () => {
    const src = shapesVideoSource(SPEC, { batchSize: 5, labels: true, images: 'outlined' });
    expect(src.batchesPerEpoch).toBe(2);
    const e0 = src.order(0, 11);
    const e1 = src.order(1, 11);
    expect([...e0].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect([...e1].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(e0)).not.toEqual(Array.from(e1));
    expect(Array.from(src.order(0, 12))).not.toEqual(Array.from(e0));
    // The same permutation as core's inMemoryDataSource for the same name.
    const ids = tf.tensor1d(Array.from({ length: 10 }, (_, i) => i), 'int32');
    const mem = inMemoryDataSource({ name: 'data:shapes-video', tensors: { id: ids }, batchSize: 5 });
    const memBatch = await mem.next({ epoch: 1, index: 0 }, 11);
    expect(Array.from(memBatch.tensors['id']!.dataSync())).toEqual(Array.from(e1.slice(0, 5)));
    tf.dispose([ids, memBatch.tensors['id']!]);
    // Batch (1, 1) holds items e1[5..10) of the dataset, in that order.
    const { tensors } = await src.next({ epoch: 1, index: 1 }, 11);
    const want = src.dataset.gather(e1.slice(5, 10));
    const wantImages = new ShapesImages(SPEC, { style: 'outlined' }).gather(e1.slice(5, 10));
    expect(Array.from(tensors['x0']!.dataSync())).toEqual(Array.from(want.videos.dataSync()));
    expect(Array.from(tensors['labels']!.dataSync())).toEqual(Array.from(want.labels.dataSync()));
    expect(Array.from(tensors['images']!.dataSync())).toEqual(Array.from(wantImages.images.dataSync()));
    expect(tensors['tokens']).toBeUndefined();
    // Index past the epoch's end rolls over to the next epoch.
    const rolled = await src.next({ epoch: 0, index: 2 }, 11);
    expect(rolled.next).toEqual({ epoch: 1, index: 1 });
    tf.dispose([tensors, want.videos, want.labels, want.tokens, wantImages.images, wantImages.labels, rolled.tensors]);
  });

  it('keeps the order without shuffling and validates the batch size', async () => {
    const src = shapesVideoSource(SPEC, { batchSize: 4, shuffle: false, dropRemainder: false });
    expect(src.batchesPerEpoch).toBe(3);
    expect(Array.from(src.order(5, 1))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const last = await src.next({ epoch: 0, index: 2 }, 1);
    expect(last.tensors['x0']!.shape[0]).toBe(2);
    expect(Object.keys(last.tensors)).toEqual(['x0']);
    const item9 = new ShapesVideo(SPEC).sample(9);
    expect(Array.from(tf.tidy(() => last.tensors['x0']!.slice([1], [1]).dataSync()))).toEqual(Array.from(item9.video.dataSync()));
    tf.dispose([last.tensors, item9.video]);
    expect(() => shapesVideoSource(SPEC, { batchSize: 11 })).toThrow(ConfigError);
    expect(() => shapesVideoSource(SPEC, { batchSize: 0 })).toThrow(/data.batchSize/);
    expect(() => shapesVideoSource('shapes-video:frames=0', { batchSize: 1 })).toThrow(/shapes-video.frames/);
    expect(JSON.stringify(src.config)).toContain('shapes-video:frames=3,size=12,seed=4,shapes=1..3,channels=3,n=10');
  });
});

describe('videoFolderSource', () => {
  it('gathers permuted videos (and extra tensors) and resumes from a cursor', async () => {
    const b = new ShapesVideo(SPEC).batch(0, 7);
    const ids = tf.tensor1d([0, 1, 2, 3, 4, 5, 6], 'int32');
    const loaded = { videos: b.videos, captions: b.captions, names: b.captions.map((_, i) => `v${i}`), root: '/data/clips' };
    const make = (): ReturnType<typeof videoFolderSource> => videoFolderSource(loaded, { batchSize: 2, extra: { id: ids } });
    const straight = await read(make(), INITIAL_CURSOR, 6, 3);
    const head = await read(make(), INITIAL_CURSOR, 3, 3);
    const tail = await read(make(), head.cursors[2]!, 3, 3);
    expect([...head.batches, ...tail.batches]).toEqual(straight.batches);
    const src = make();
    const { ids: at, next } = src.indicesAt({ epoch: 0, index: 3 }, 3);
    expect(next).toEqual({ epoch: 1, index: 1 });
    expect(Array.from(at)).toEqual(Array.from(epochPermutation(7, 3, 'data:video-folder', 1).slice(0, 2)));
    const batch = await src.next({ epoch: 0, index: 3 }, 3);
    expect(Array.from(batch.tensors['id']!.dataSync())).toEqual(Array.from(at));
    const want = tf.tidy(() => tf.gather(b.videos, tf.tensor1d(at, 'int32')));
    expect(Array.from(batch.tensors['x0']!.dataSync())).toEqual(Array.from(want.dataSync()));
    expect(() => videoFolderSource(loaded, { batchSize: 2, extra: { id: tf.zeros([3]) } })).toThrow(/extra.id/);
    tf.dispose([b.videos, b.labels, b.tokens, ids, batch.tensors, want]);
  });
});
