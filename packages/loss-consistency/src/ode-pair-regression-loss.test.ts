import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { flowMatchingSchedule, forwardDiffuse, ShapeError } from '@fewstep/core';
import { describeLossConformance, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { odePairInput, odePairRegressionLoss, type OdePairRegressionInputs } from './ode-pair-regression-loss.js';

let v: tf.Variable;
beforeAll(async () => {
  await tf.setBackend('cpu');
  v = tf.tidy(() => tf.variable(seededNormal([2, 2, 4, 4, 1], 1, 1), true, 'adp.student.v'));
});

describeLossConformance(odePairRegressionLoss, {
  inputs: (): OdePairRegressionInputs => ({ velocity: v, noise: seededNormal([2, 2, 4, 4, 1], 2, 1), clean: seededNormal([2, 2, 4, 4, 1], 3, 1) }),
  trainable: () => [v],
  valid: [{}],
});

describe('odePairRegressionLoss (ADP Eq. 9-10): closed form', () => {
  it('input (1 - t) clean + t noise equals core flow-matching forward diffusion (shift 1)', () => {
    const noise = seededNormal([2, 1, 2, 2, 1], 4, 1);
    const clean = seededNormal([2, 1, 2, 2, 1], 5, 1);
    const t = tf.tensor1d([0.2, 0.7]);
    expectTensorsClose(odePairInput(noise, clean, t), forwardDiffuse(flowMatchingSchedule({ shift: 1 }), clean, noise, t), { atol: 1e-6 });
  });

  it('value and gradient: mean (v - (noise - clean))^2, grad 2 (v - target) / N; exact velocity gives 0', () => {
    const noise = tf.tensor2d([[1, 2]]);
    const clean = tf.tensor2d([[3, -1]]);
    // Target noise - clean = [-2, 3].
    const p = tf.variable(tf.tensor2d([[0, 0]]), true, 'adp.closed.p');
    const { value, grads } = tf.variableGrads(() => odePairRegressionLoss.compute({ velocity: p, noise, clean }, {}).loss, [p]);
    expect(value.dataSync()[0]).toBeCloseTo((4 + 9) / 2, 5);
    expectTensorsClose(grads[p.name]!, tf.tensor2d([[2, -3]]), { atol: 1e-6 });
    expect(odePairRegressionLoss.compute({ velocity: tf.tensor2d([[-2, 3]]), noise, clean }, {}).loss.dataSync()[0]).toBe(0);
    expect(() => odePairRegressionLoss.compute({ velocity: tf.zeros([1, 3]), noise, clean }, {})).toThrow(ShapeError);
    p.dispose();
  });
});
