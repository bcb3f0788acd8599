/**
 * @file ADP's ODE-pair regression (ADM/DMDX paper, Eq. 9-10): from an offline teacher ODE pair
 * `(noise, clean)` (noise `eps` and the teacher's sample from it), the student's input at
 * `t in [0, 1]` is the straight-line interpolation `x_t = (1 - t) clean + t noise` and its target is
 * that line's velocity `noise - clean`:
 *
 * `L_ADP = mean || v_theta(x_t, t) - (noise - clean) ||^2`.
 *
 * Flow convention (core's `'flow'` prediction, rectified flow): `x_t = (1 - t) x0 + t eps`,
 * `v = eps - x0`. Constants: noise, clean, t. Differentiated: `velocity`. Reduction: mean over all
 * elements.
 */
import * as tf from '@tensorflow/tfjs-core';
import { appendDims, defineLoss } from '@fewstep/core';
import { checkSame } from './trajectory-loss.js';

/** Options of {@link odePairRegressionLoss} (none). */
export type OdePairRegressionOptions = Record<never, never>;

/** Inputs of {@link odePairRegressionLoss}. */
export interface OdePairRegressionInputs {
  /** `[B, ...]` student velocity at `(odePairInput(noise, clean, t), t)` (differentiable). */
  velocity: tf.Tensor;
  /** `[B, ...]` the pair's noise end `eps` (constant). */
  noise: tf.Tensor;
  /** `[B, ...]` the pair's clean end, the teacher's ODE solution from `noise` (constant). */
  clean: tf.Tensor;
}

/**
 * The student's input `(1 - t) clean + t noise`.
 * @param t a number or `[B]` times in [0, 1]
 * @returns `[B, ...]`
 */
export function odePairInput(noise: tf.Tensor, clean: tf.Tensor, t: number | tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const tt = appendDims(t, noise.rank);
    return tf.add(clean, tf.mul(tf.sub(noise, clean), tt));
  });
}

/** ADP Eq. 9-10: regress the student velocity on the straight line between an ODE pair's ends. */
export const odePairRegressionLoss = defineLoss<OdePairRegressionOptions, OdePairRegressionInputs>({
  name: 'consistency:ode-pair-regression',
  description: 'mean || v(x_t, t) - (noise - clean) ||^2 with x_t = (1 - t) clean + t noise',
  equation: 'DMDX (ADP) Eq. 9-10',
  defaults: {},
  requires: ['student'],
  trains: 'student',
  compute: ({ velocity, noise, clean }) =>
    tf.tidy(() => {
      checkSame('odePairRegressionLoss noise', noise, velocity);
      checkSame('odePairRegressionLoss clean', clean, velocity);
      return { loss: tf.mean(tf.squaredDifference(velocity, tf.sub(noise, clean))) as tf.Scalar };
    }),
});
