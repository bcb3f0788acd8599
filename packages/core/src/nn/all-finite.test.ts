import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { allFinite } from './all-finite.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('allFinite', () => {
  it('detects NaN, +Inf and -Inf anywhere, accepts huge finite values, and leaks nothing', async () => {
    const ok = [tf.tensor([1, -3e38, 3e38]), tf.ones([2, 2]), tf.tensor([1, 2], [2], 'int32')];
    const before = tf.memory().numTensors;
    expect(await allFinite(ok)).toBe(true);
    expect(await allFinite([])).toBe(true);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const t = tf.tensor([0, 1, bad, 2]);
      expect(await allFinite([...ok, t])).toBe(false);
      t.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(ok);
  });
});
