import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { clipByGlobalNorm, globalNormParts, readGlobalNorm } from './clip-grad-norm.js';
import { mulberry32 } from './seeded-random.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function randomGrads(seed: number, scale: number): Map<string, tf.Tensor> {
  const rand = mulberry32(seed);
  const shapes: [string, number[]][] = [['a', [17, 5]], ['b', [300]], ['c', [3, 3, 4, 8]]];
  return new Map(shapes.map(([n, s]) => [n, tf.tensor(Float32Array.from({ length: s.reduce((x, y) => x * y) }, () => (rand() * 2 - 1) * scale), s)]));
}

function float64Norm(grads: Map<string, tf.Tensor>): number {
  let sum = 0;
  for (const g of grads.values()) for (const x of g.dataSync()) sum += x * x;
  return Math.sqrt(sum);
}

describe('global L2 norm (P29)', () => {
  it('matches a float64 reference within 1e-6 relative, from tiny to huge magnitudes', async () => {
    for (const [seed, scale] of [[1, 1], [2, 1e-30], [3, 1e25], [4, 3e38]] as const) {
      const grads = randomGrads(seed, scale);
      const gn = await readGlobalNorm(globalNormParts([...grads.values()]));
      const ref = float64Norm(grads);
      expect(gn.finite).toBe(true);
      expect(Math.abs(gn.norm - ref) / ref).toBeLessThan(1e-6);
      for (const g of grads.values()) g.dispose();
    }
  });

  it('clipByGlobalNorm scales to maxNorm like torch clip_grad_norm_, leaves small gradients alone, refuses NaN', async () => {
    const grads = randomGrads(5, 10);
    const before = tf.memory().numTensors;
    const big = await clipByGlobalNorm(grads, 1);
    expect(big.clipped).toBe(true);
    expect(float64Norm(big.grads!)).toBeCloseTo(1 / (1 + 1e-6 / big.norm), 5);
    const small = await clipByGlobalNorm(grads, 1e6);
    expect(small.clipped).toBe(false);
    expect(small.grads!.get('a')!.dataSync()).toEqual(grads.get('a')!.dataSync());
    for (const g of [...big.grads!.values(), ...small.grads!.values()]) g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const bad = new Map(grads).set('b', tf.tensor([1, NaN]));
    const r = await clipByGlobalNorm(bad, 1);
    expect(r.grads).toBeNull();
    expect(Number.isNaN(r.norm)).toBe(true);
    for (const g of bad.values()) g.dispose();
    grads.get('b')!.dispose();
  });

  it('zero gradients have norm 0 (no 0/0)', async () => {
    const z = tf.zeros([4]);
    const gn = await readGlobalNorm(globalNormParts([z]));
    expect(gn).toMatchObject({ norm: 0, finite: true });
    z.dispose();
  });
});
