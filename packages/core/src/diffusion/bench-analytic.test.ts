import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { benchAnalyticSampling } from './bench-analytic.js';

beforeAll(async () => {
  await tf.setBackend('wasm');
});

// Not a timed test: checks that the benchmark runs and reports its figures (the CLI prints them).
describe('benchAnalyticSampling', () => {
  it('reports samples/s and NFE per step count, leaving no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const r = await benchAnalyticSampling({ spec: 'gmm-video:modes=4,frames=2,size=4,channels=1,std=0.05,seed=1', batch: 8, steps: [4, 2], repeats: 1 });
    expect(r.backend).toBe('wasm');
    expect(r.results.map((x) => [x.steps, x.nfe])).toEqual([[4, 4], [2, 2]]);
    for (const x of r.results) expect(x.samplesPerSecond).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });
});
