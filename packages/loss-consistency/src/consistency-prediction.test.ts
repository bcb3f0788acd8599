import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { lcmBoundaryCondition, ShapeError } from '@fewstep/core';
import { expectTensorsClose } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { boundaryCoefficients, consistencyPrediction } from './consistency-prediction.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('consistencyPrediction', () => {
  it('c_skip x + c_out x0, per-sample coefficients broadcast over [B, F, H, W, C]', () => {
    const x = tf.ones([2, 1, 1, 2, 1]);
    const x0 = tf.fill([2, 1, 1, 2, 1], 3);
    const out = consistencyPrediction(tf.tensor1d([0.5, 0]), tf.tensor1d([0.5, 1]), x, x0);
    expectTensorsClose(out, tf.tensor5d([2, 2, 3, 3], [2, 1, 1, 2, 1]));
    expectTensorsClose(consistencyPrediction(1, 0, x, x0), x);
    expect(() => consistencyPrediction(1, 0, x, tf.zeros([2, 2]))).toThrow(ShapeError);
  });

  it('LCM boundary: f(x, 0) = x; at t = 999 f ~ x0 (c_skip ~ 0, c_out ~ 1)', () => {
    const lcm = lcmBoundaryCondition();
    const { cSkip, cOut } = boundaryCoefficients([0, 999], lcm);
    expectTensorsClose(cSkip, tf.tensor1d([1, lcm.cSkip(999)]));
    expectTensorsClose(cOut, tf.tensor1d([0, lcm.cOut(999)]));
    const x = tf.tensor2d([[1, 2], [1, 2]]);
    const x0 = tf.tensor2d([[5, 6], [5, 6]]);
    expectTensorsClose(consistencyPrediction(cSkip, cOut, x, x0), tf.tensor2d([[1, 2], [5, 6]]), { atol: 1e-5 });
  });
});
