/**
 * @file AccVideo's trajectory loss (AccVideo Eq. 6): with teacher trajectory latents at consecutive
 * key timesteps `l_{t'_{k+1}}` (noisier) and `l_{t'_k}`, regress the student's velocity at
 * `l_{t'_{k+1}}` to the secant slope
 *
 * `L_traj = mean || v_theta(l_{t'_{k+1}}, t'_{k+1}) - (l_{t'_k} - l_{t'_{k+1}}) / (t'_k - t'_{k+1}) ||^2`.
 *
 * Flow convention (core's `'flow'` prediction): `x_t = (1 - t) x0 + t eps`, `v = dx/dt = eps - x0`;
 * the slope above is a finite difference of that same `dx/dt` (both numerator and denominator are
 * negative going down in t). Constants: the trajectory latents and times. Differentiated: `velocity`.
 * Reduction: mean over every element (MSE), the mean of `||.||^2 / D`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { appendDims, defineLoss, ShapeError } from '@fewstep/core';

/** Options of {@link trajectoryLoss} (none: AccVideo Eq. 6 has no hyper-parameter). */
export type TrajectoryLossOptions = Record<string, never>;

/** Inputs of {@link trajectoryLoss}. */
export interface TrajectoryLossInputs {
  /** `[B, ...]` student velocity at `(l_{t'_{k+1}}, t'_{k+1})` (differentiable). */
  velocity: tf.Tensor;
  /** `[B, ...]` `l_{t'_{k+1}}`, the noisier latent (constant). */
  latentFrom: tf.Tensor;
  /** `[B, ...]` `l_{t'_k}`, the next trajectory latent (constant). */
  latentTo: tf.Tensor;
  /** `t'_{k+1}`: a number or `[B]` times in [0, 1]. */
  tFrom: number | tf.Tensor;
  /** `t'_k` (< tFrom): a number or `[B]`. */
  tTo: number | tf.Tensor;
}

export function checkSame(what: string, a: tf.Tensor, ref: tf.Tensor): void {
  if (a.shape.join(',') !== ref.shape.join(',')) throw new ShapeError(what, a.shape, `[${ref.shape.join(', ')}] (the velocity's shape)`, 'pass tensors of one [B, ...] shape');
}

/**
 * The secant velocity target `(l_to - l_from) / (t_to - t_from)`.
 * @returns `[B, ...]`
 */
export function secantVelocity(latentFrom: tf.Tensor, latentTo: tf.Tensor, tFrom: number | tf.Tensor, tTo: number | tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const dt = typeof tFrom === 'number' && typeof tTo === 'number' ? tTo - tFrom : tf.sub(tTo, tFrom);
    return tf.div(tf.sub(latentTo, latentFrom), appendDims(dt, latentFrom.rank));
  });
}

/** AccVideo Eq. 6: regress the student velocity to the teacher trajectory's secant slope. */
export const trajectoryLoss = defineLoss<TrajectoryLossOptions, TrajectoryLossInputs>({
  name: 'consistency:trajectory',
  description: "mean || v - (l_{t'_k} - l_{t'_{k+1}}) / (t'_k - t'_{k+1}) ||^2 on teacher trajectories",
  equation: 'AccVideo Eq. 6',
  defaults: {},
  requires: ['student'],
  trains: 'student',
  compute: ({ velocity, latentFrom, latentTo, tFrom, tTo }) =>
    tf.tidy(() => {
      checkSame('trajectoryLoss latentFrom', latentFrom, velocity);
      checkSame('trajectoryLoss latentTo', latentTo, velocity);
      return { loss: tf.mean(tf.squaredDifference(velocity, secantVelocity(latentFrom, latentTo, tFrom, tTo))) as tf.Scalar };
    }),
});
