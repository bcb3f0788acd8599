import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { flowMatchingSchedule, vpDiscreteSchedule } from '@fewstep/core';
import { describeLossConformance, expectTensorsClose, seededNormal } from '@fewstep/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { generatedTrajectoryStart, mixedTrajectoryLoss, type MixedTrajectoryInputs } from './mixed-trajectory.js';

let vars: tf.Variable[];
beforeAll(async () => {
  await tf.setBackend('cpu');
  vars = [2, 3, 5, 7].map((v, i) => tf.variable(tf.scalar(v), true, `mixed.term${i}`));
});

describeLossConformance(mixedTrajectoryLoss, {
  inputs: (): MixedTrajectoryInputs => ({
    real: vars[0] as tf.Scalar,
    generated: vars[1] as tf.Scalar,
    realAdversarial: vars[2] as tf.Scalar,
    generatedAdversarial: vars[3] as tf.Scalar,
  }),
  trainable: () => vars,
  valid: [{}, { lambdaReal: 1, lambdaAdv: 0 }],
  invalid: [
    { options: { lambdaReal: 1.5 }, error: /lambdaReal/ },
    { options: { lambdaAdv: -1 }, error: /lambdaAdv/ },
  ],
});

describe('mixed trajectory (MCM Eq. 7-9)', () => {
  it('Eq. 9: lambda_real (L + lambda_adv A) + (1 - lambda_real)(L_gen + lambda_adv A_gen)', () => {
    const s = (v: number) => tf.scalar(v);
    const out = mixedTrajectoryLoss.compute(
      { real: s(2), generated: s(3), realAdversarial: s(5), generatedAdversarial: s(7) },
      { lambdaReal: 0.25, lambdaAdv: 0.5 },
    );
    expect(out.loss.dataSync()[0]).toBeCloseTo(0.25 * (2 + 2.5) + 0.75 * (3 + 3.5), 5);
    const noAdv = mixedTrajectoryLoss.compute({ real: s(2), generated: s(3) }, mixedTrajectoryLoss.defaults);
    expect(noAdv.loss.dataSync()[0]).toBeCloseTo(2.5, 6);
  });

  it('Eq. 7: alpha_t f_theta(x_T, T) + sigma_t eps for number and per-sample times', () => {
    const x0 = seededNormal([2, 2, 2, 2, 1], 1, 1);
    const eps = seededNormal([2, 2, 2, 2, 1], 2, 1);
    const flow = flowMatchingSchedule();
    // Flow matching: alpha = 1 - t, sigma = t.
    expectTensorsClose(generatedTrajectoryStart(flow, x0, eps, 0.25), tf.add(tf.mul(x0, 0.75), tf.mul(eps, 0.25)), { atol: 1e-6 });
    const vp = vpDiscreteSchedule();
    const t = tf.tensor1d([10, 900]);
    const got = generatedTrajectoryStart(vp, x0, eps, t).arraySync() as number[][][][][];
    const x0a = x0.arraySync() as number[][][][][];
    const epsa = eps.arraySync() as number[][][][][];
    expect(got[1]![0]![1]![1]![0]).toBeCloseTo(vp.alpha(900) * x0a[1]![0]![1]![1]![0]! + vp.sigma(900) * epsa[1]![0]![1]![1]![0]!, 5);
  });
});
