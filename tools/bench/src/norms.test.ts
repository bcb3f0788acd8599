import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak, expectTensorsClose } from '@fewstep/testing';
import { groupNorm, layerNorm } from './norms.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('layerNorm', () => {
  it('normalises the last axis with the biased variance (torch.nn.LayerNorm)', () => {
    // Row [1, 2, 3, 4]: mean 2.5, biased variance 1.25.
    const x = tf.tensor2d([[1, 2, 3, 4], [-2, 0, 0, 2]]);
    const s1 = 1 / Math.sqrt(1.25 + 1e-5);
    const s2 = 1 / Math.sqrt(2 + 1e-5); // row 2: mean 0, variance (4+0+0+4)/4 = 2
    expectTensorsClose(layerNorm(x, null, null), [-1.5 * s1, -0.5 * s1, 0.5 * s1, 1.5 * s1, -2 * s2, 0, 0, 2 * s2], {
      rtol: 1e-6,
      what: 'layerNorm',
    });
  });

  it('applies the per-channel affine after normalising, with the given eps', () => {
    const x = tf.tensor2d([[1, 2, 3, 4]]);
    const s = 1 / Math.sqrt(1.25 + 1e-6);
    const g = tf.tensor1d([1, 2, 3, 4]);
    const b = tf.tensor1d([0, 1, 0, -1]);
    expectTensorsClose(layerNorm(x, g, b, 1e-6), [-1.5 * s, 1 - s, 1.5 * s, 6 * s - 1], { rtol: 1e-6 });
  });
});

describe('groupNorm', () => {
  it('pools each group over H·W·(C/G) of each sample (torch.nn.GroupNorm on NHWC)', () => {
    // [N=1, H=1, W=2, C=4], 2 groups: group 0 = channels 0,1 over both pixels = {1, 2, 5, 6}.
    const x = tf.tensor4d([1, 2, 10, 20, 5, 6, 30, 40], [1, 1, 2, 4]);
    const m0 = 3.5;
    const v0 = ((1 - m0) ** 2 + (2 - m0) ** 2 + (5 - m0) ** 2 + (6 - m0) ** 2) / 4;
    const m1 = 25;
    const v1 = ((10 - m1) ** 2 + (20 - m1) ** 2 + (30 - m1) ** 2 + (40 - m1) ** 2) / 4;
    const n0 = (v: number) => (v - m0) / Math.sqrt(v0 + 1e-5);
    const n1 = (v: number) => (v - m1) / Math.sqrt(v1 + 1e-5);
    const expected = [n0(1), n0(2), n1(10), n1(20), n0(5), n0(6), n1(30), n1(40)];
    const y = groupNorm(x, null, null, 2);
    expect(y.shape).toEqual([1, 1, 2, 4]);
    expectTensorsClose(y, expected, { rtol: 1e-6, what: 'groupNorm' });
    // Affine per channel, not per group.
    const g = tf.tensor1d([1, -1, 2, 0.5]);
    const b = tf.tensor1d([0, 1, 2, 3]);
    const ga = [1, -1, 2, 0.5];
    const be = [0, 1, 2, 3];
    expectTensorsClose(
      groupNorm(x, g, b, 2),
      expected.map((v, i) => v * (ga[i % 4] as number) + (be[i % 4] as number)),
      { rtol: 1e-6 },
    );
  });

  it('keeps samples apart and frees its intermediates', async () => {
    const a = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const both = tf.concat([a, tf.mul(a, 10)], 0);
    const y = groupNorm(both, null, null, 1);
    // Normalisation is scale-invariant per sample: both samples normalise to the same values.
    const [y0, y1] = tf.split(y, 2, 0) as [tf.Tensor, tf.Tensor];
    expectTensorsClose(y1, y0, { rtol: 1e-4 });
    await expectNoLeak(() => groupNorm(both, null, null, 2), 'groupNorm');
  });

  it('rejects a channel count the groups do not divide', () => {
    expect(() => groupNorm(tf.zeros([1, 2, 2, 6]), null, null, 4)).toThrow(/C=6 is not divisible by groups=4/);
  });
});
