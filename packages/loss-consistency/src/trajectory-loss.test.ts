import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { ACCVIDEO_KEY_TIMESTEPS, ShapeError } from '@fewstep/core';
import { describeLossConformance, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { secantVelocity, trajectoryLoss, type TrajectoryLossInputs } from './trajectory-loss.js';

let v: tf.Variable;
beforeAll(async () => {
  await tf.setBackend('cpu');
  v = tf.tidy(() => tf.variable(seededNormal([2, 2, 4, 4, 1], 1, 1), true, 'traj.student.v'));
});

describeLossConformance(trajectoryLoss, {
  inputs: (): TrajectoryLossInputs => ({
    velocity: v,
    latentFrom: seededNormal([2, 2, 4, 4, 1], 2, 1),
    latentTo: seededNormal([2, 2, 4, 4, 1], 3, 1),
    tFrom: tf.tensor1d([1.0, 0.9651]),
    tTo: tf.tensor1d([0.9651, 0.913]),
  }),
  trainable: () => [v],
  valid: [{}],
});

describe('trajectoryLoss (AccVideo Eq. 6): closed form', () => {
  it('on a straight flow path x_t = (1 - t) x0 + t eps the target is eps - x0 for any key-timestep pair', () => {
    const x0 = seededNormal([1, 2, 2, 2, 1], 4, 1);
    const eps = seededNormal([1, 2, 2, 2, 1], 5, 1);
    const at = (t: number) => tf.add(tf.mul(x0, 1 - t), tf.mul(eps, t));
    const keys = ACCVIDEO_KEY_TIMESTEPS as readonly number[];
    expect(keys.length).toBeGreaterThan(2);
    const tFrom = keys[1]!;
    const tTo = keys[2]!;
    expectTensorsClose(secantVelocity(at(tFrom), at(tTo), tFrom, tTo), tf.sub(eps, x0), { atol: 1e-4 });
    const exact = trajectoryLoss.compute({ velocity: tf.sub(eps, x0), latentFrom: at(tFrom), latentTo: at(tTo), tFrom, tTo }, {});
    expect(exact.loss.dataSync()[0]).toBeCloseTo(0, 6);
  });

  it('value and gradient on tiny tensors: mean (v - (l_to - l_from)/(t_to - t_from))^2, grad 2 (v - target) / N', () => {
    // Target: ([1, 4] - [3, 0]) / (0.5 - 1) = [4, -8].
    const p = tf.variable(tf.tensor2d([[1, 0]]), true, 'traj.closed.p');
    const inputs = { latentFrom: tf.tensor2d([[3, 0]]), latentTo: tf.tensor2d([[1, 4]]), tFrom: 1, tTo: 0.5 };
    const { value, grads } = tf.variableGrads(() => trajectoryLoss.compute({ velocity: p, ...inputs }, {}).loss, [p]);
    expect(value.dataSync()[0]).toBeCloseTo((9 + 64) / 2, 5);
    expectTensorsClose(grads[p.name]!, tf.tensor2d([[-3, 8]]), { atol: 1e-5 });
    expect(() => trajectoryLoss.compute({ velocity: tf.zeros([1, 3]), ...inputs }, {})).toThrow(ShapeError);
    p.dispose();
  });
});
