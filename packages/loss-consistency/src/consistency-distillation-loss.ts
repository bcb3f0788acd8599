/**
 * @file Consistency distillation loss (CM Eq. 7; LCM Eq. 9; OSV Eq. 8 with an m-step teacher
 * solve; MCM Eq. 3):
 *
 * `L_CD = mean_b lambda(t_n)_b d( f_theta-(x^phi_{t_n}, t_n)_b , f_theta(x_{t_{n+m}}, t_{n+m})_b )`
 *
 * with `d` the per-sample pseudo-Huber distance (iCT) or squared L2 (see `pseudo-huber.ts`).
 *
 * Constants (no gradient): `target` = the EMA student's prediction at the teacher-solved point
 * `x^phi_{t_n}` (`teacherSolve`), and `weights`. Only `pred` (the student's prediction at
 * `x_{t_{n+m}}`, built from the trained variables) is differentiated: the EMA student's and the
 * teacher's variables must not be in the variable list passed to `tf.variableGrads`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { defineLoss, ShapeError } from '@fewstep/core';
import { consistencyDistance, ICT_HUBER_C, validateDistanceOptions, type DistanceOptions } from './pseudo-huber.js';

/** Options of {@link consistencyDistillationLoss} (iCT / OSV Eq. 8 defaults). */
export interface ConsistencyDistillationOptions extends DistanceOptions {
  /** `'pseudo-huber'` (iCT, OSV, MCM) or `'l2'` (squared, CM). @default 'pseudo-huber' */
  distance: NonNullable<DistanceOptions['distance']>;
  /** Pseudo-Huber `c` (per sqrt(D) when `scaleCWithSqrtDim`). @default 0.00054 */
  huberC: number;
  /** iCT's `c = huberC * sqrt(D)`. @default true */
  scaleCWithSqrtDim: boolean;
}

/** Inputs of {@link consistencyDistillationLoss}. */
export interface ConsistencyDistillationInputs {
  /** `[B, ...]` student `f_theta(x_{t_{n+m}}, t_{n+m})` (differentiable). */
  pred: tf.Tensor;
  /** `[B, ...]` EMA target `f_theta-(x^phi_{t_n}, t_n)` (constant). */
  target: tf.Tensor;
  /** `[B]` per-sample weights `lambda(t_n)` (constant); omitted = 1. */
  weights?: tf.Tensor;
}

/** Checks `weights` is `[B]` for a `[B, ...]` prediction. */
export function checkWeights(weights: tf.Tensor | undefined, pred: tf.Tensor): void {
  if (weights !== undefined && (weights.rank !== 1 || weights.shape[0] !== pred.shape[0])) {
    throw new ShapeError('consistency loss weights', weights.shape, `[${pred.shape[0] ?? 'B'}] (one per sample)`, 'pass one weight lambda(t_n) per sample, shape [B]');
  }
}

/** `mean_b w_b d_b` (or `mean_b d_b`), a scalar. */
export function weightedMean(perSample: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  return tf.mean(weights === undefined ? perSample : tf.mul(perSample, weights));
}

/** Consistency distillation: per-sample distance between the student and the EMA target, weighted. */
export const consistencyDistillationLoss = defineLoss<ConsistencyDistillationOptions, ConsistencyDistillationInputs>({
  name: 'consistency:consistency-distillation',
  description: 'mean lambda(t_n) d(f_theta-(x^phi_{t_n}, t_n), f_theta(x_{t_{n+m}}, t_{n+m})) with an m-step teacher solve',
  equation: 'LCM Eq. 9; OSV Eq. 8 (m-step solve); iCT pseudo-Huber',
  defaults: { distance: 'pseudo-huber', huberC: ICT_HUBER_C, scaleCWithSqrtDim: true },
  requires: ['student', 'emaStudent', 'teacher'],
  trains: 'student',
  validate: (options) => validateDistanceOptions(options),
  compute: ({ pred, target, weights }, options) =>
    tf.tidy(() => {
      checkWeights(weights, pred);
      const d = consistencyDistance(pred, target, options);
      return { loss: weightedMean(d, weights), metrics: { distance: tf.mean(d) as tf.Scalar } };
    }),
});
