import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { seededRng } from '@fewstep/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectTensorsClose, seededNormal } from '@fewstep/testing';
import { sampleSparseFrames } from './sparse-frames.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('sampleSparseFrames', () => {
  it('picks l distinct frames per video, deterministically for a seed, and gathers them', () => {
    const video = seededNormal([3, 6, 2, 2, 1], 1);
    const a = sampleSparseFrames(video, 3, seededRng(7));
    const b = sampleSparseFrames(video, 3, seededRng(7));
    expect(a.indices).toEqual(b.indices);
    for (const row of a.indices) {
      expect(new Set(row).size).toBe(3);
      expect(row.every((j) => Number.isInteger(j) && j >= 0 && j < 6)).toBe(true);
    }
    expect(a.frames.shape).toEqual([9, 2, 2, 1]);
    a.indices.forEach((row, i) =>
      row.forEach((j, k) => {
        const expected = tf.reshape(tf.slice(video, [i, j, 0, 0, 0], [1, 1, -1, -1, -1]), [2, 2, 1]);
        const got = tf.reshape(tf.slice(a.frames, [i * 3 + k, 0, 0, 0], [1, -1, -1, -1]), [2, 2, 1]);
        expectTensorsClose(got, expected, { atol: 0, what: `frame ${i}/${j}` });
        tf.dispose([expected, got]);
      }),
    );
    // Different seeds visit different subsets; l = F takes every frame.
    const seen = new Set(Array.from({ length: 20 }, (_, s) => sampleSparseFrames(video, 2, seededRng(s)).indices.join('|')));
    expect(seen.size).toBeGreaterThan(1);
    const all = sampleSparseFrames(video, 6, seededRng(1));
    expect(all.indices).toEqual([0, 1, 2].map(() => [0, 1, 2, 3, 4, 5]));
    // An rng at the edge (0.9999...) stays in range.
    expect(sampleSparseFrames(video, 2, () => 0.9999999999).indices.flat().every((j) => j < 6)).toBe(true);
    tf.dispose([video, a.frames, b.frames, all.frames]);
  });

  it('gradient flows only to the picked frames', () => {
    const video = seededNormal([2, 4, 2, 2, 1], 2);
    let indices: number[][] = [];
    const g = tf.grad((v: tf.Tensor) => {
      const s = sampleSparseFrames(v, 2, seededRng(3));
      indices = s.indices;
      return tf.sum(s.frames);
    })(video);
    const perFrame = tf.sum(tf.abs(g), [2, 3, 4]).arraySync() as number[][];
    perFrame.forEach((row, i) => row.forEach((v, j) => expect(v > 0, `video ${i} frame ${j}`).toBe(indices[i]!.includes(j))));
    tf.dispose([video, g]);
  });

  it('validates l and the rank', () => {
    const video = seededNormal([1, 3, 2, 2, 1], 1);
    expect(() => sampleSparseFrames(video, 0, seededRng(1))).toThrow(/\[1, 3\]/);
    expect(() => sampleSparseFrames(video, 4, seededRng(1))).toThrow(/l/);
    expect(() => sampleSparseFrames(tf.zeros([3, 2, 2, 1]), 1, seededRng(1))).toThrow(/B, F, H, W, C/);
    video.dispose();
  });
});
