import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fewstep/core';
import { describeLossConformance, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { consistencyDistillationLoss, type ConsistencyDistillationInputs } from './consistency-distillation-loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The trained role's output is the variable itself: conformance builds inputs outside the tape.
let w: tf.Variable;
beforeAll(() => {
  w = tf.tidy(() => tf.variable(seededNormal([2, 2, 4, 4, 1], 3, 1), true, 'cd.student.w'));
});

describeLossConformance(consistencyDistillationLoss, {
  inputs: (): ConsistencyDistillationInputs => ({
    pred: w,
    target: seededNormal([2, 2, 4, 4, 1], 4, 1),
    weights: tf.tensor1d([1, 0.5]),
  }),
  trainable: () => [w],
  valid: [{}, { distance: 'l2' }, { huberC: 0.001, scaleCWithSqrtDim: false }],
  invalid: [
    { options: { huberC: -1 }, error: /huberC/ },
    { options: { distance: 'l1' as never }, error: /distance/ },
  ],
});

describe('consistencyDistillationLoss: closed form', () => {
  it('mean_b lambda_b (sqrt(||pred_b - target_b||^2 + c^2) - c) and its gradient (pred - target) lambda / (B sqrt(.))', () => {
    // Sample 0: diff (3, 4), ||.||^2 = 25; sample 1: diff (1, 0, ...) = 1. c = 2 (unscaled).
    const target = tf.tensor2d([[0, 0], [0, 0]]);
    const p = tf.variable(tf.tensor2d([[3, 4], [1, 0]]), true, 'cd.closed.p');
    const weights = tf.tensor1d([2, 1]);
    const options = { ...consistencyDistillationLoss.defaults, huberC: 2, scaleCWithSqrtDim: false };
    const { value, grads } = tf.variableGrads(() => consistencyDistillationLoss.compute({ pred: tf.mul(p, 1), target, weights }, options).loss, [p]);
    const s0 = Math.sqrt(25 + 4);
    const s1 = Math.sqrt(1 + 4);
    expect(value.dataSync()[0]).toBeCloseTo((2 * (s0 - 2) + (s1 - 2)) / 2, 5);
    expectTensorsClose(grads[p.name]!, tf.tensor2d([[(2 * 3) / (2 * s0), (2 * 4) / (2 * s0)], [1 / (2 * s1), 0]]), { atol: 1e-6 });
    p.dispose();
  });

  it('l2: mean_b ||pred_b - target_b||^2; weights must be [B]', () => {
    const out = consistencyDistillationLoss.compute(
      { pred: tf.tensor2d([[3, 4], [1, 0]]), target: tf.zeros([2, 2]) },
      { ...consistencyDistillationLoss.defaults, distance: 'l2' },
    );
    expect(out.loss.dataSync()[0]).toBeCloseTo(13, 5);
    expect(() =>
      consistencyDistillationLoss.compute({ pred: tf.zeros([2, 2]), target: tf.zeros([2, 2]), weights: tf.ones([3]) }, consistencyDistillationLoss.defaults),
    ).toThrow(ShapeError);
    expect(() => consistencyDistillationLoss.validate!({ ...consistencyDistillationLoss.defaults, huberC: Number.NaN })).toThrow(ConfigError);
  });
});
