import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fewstep/core';
import { expectNoLeak, expectTensorsClose } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { consistencyDistance, ICT_HUBER_C, pseudoHuberDistance, squaredL2Distance } from './pseudo-huber.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('consistency distances', () => {
  // Sample 0: difference (3, 4) -> ||.||^2 = 25; sample 1: difference (0, 0) -> 0.
  const x = () => tf.tensor2d([[3, 4], [1, 2]]);
  const y = () => tf.tensor2d([[0, 0], [1, 2]]);

  it('squared L2 per sample, over every non-batch axis', () => {
    expectTensorsClose(squaredL2Distance(x(), y()), tf.tensor1d([25, 0]));
    const a = tf.tensor4d([1, 2, 3, 4, 0, 0, 0, 1], [2, 2, 2, 1]);
    expectTensorsClose(squaredL2Distance(a, tf.zerosLike(a)), tf.tensor1d([30, 1]));
  });

  it('pseudo-Huber sqrt(||x-y||^2 + c^2) - c, with c = 0.00054 sqrt(D) by default', () => {
    expectTensorsClose(pseudoHuberDistance(x(), y(), 1), tf.tensor1d([Math.sqrt(26) - 1, 0]), { atol: 1e-6 });
    const c = ICT_HUBER_C * Math.sqrt(2);
    expectTensorsClose(consistencyDistance(x(), y()), tf.tensor1d([Math.sqrt(25 + c * c) - c, 0]), { atol: 1e-6 });
    expectTensorsClose(consistencyDistance(x(), y(), { huberC: 2, scaleCWithSqrtDim: false }), tf.tensor1d([Math.sqrt(29) - 2, 0]), { atol: 1e-6 });
    expectTensorsClose(consistencyDistance(x(), y(), { distance: 'l2' }), tf.tensor1d([25, 0]));
  });

  it('pseudo-Huber is ~ L2^2 / (2c) near 0 and ~ ||x-y|| far away', () => {
    const small = pseudoHuberDistance(tf.tensor2d([[1e-3, 0]]), tf.tensor2d([[0, 0]]), 1).dataSync()[0]!;
    expect(small).toBeCloseTo(1e-6 / 2, 9);
    const big = pseudoHuberDistance(tf.tensor2d([[1e3, 0]]), tf.tensor2d([[0, 0]]), 1e-3).dataSync()[0]!;
    expect(big).toBeCloseTo(1e3, 2);
  });

  it('rejects mismatched shapes and bad options with typed errors; no leaks', async () => {
    expect(() => squaredL2Distance(tf.zeros([2, 3]), tf.zeros([2, 2]))).toThrow(ShapeError);
    expect(() => consistencyDistance(x(), y(), { huberC: 0 })).toThrow(ConfigError);
    expect(() => consistencyDistance(x(), y(), { distance: 'l1' as never })).toThrow(ConfigError);
    const a = x();
    const b = y();
    await expectNoLeak(() => consistencyDistance(a, b).dispose());
  });
});
