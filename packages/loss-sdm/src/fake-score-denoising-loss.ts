/**
 * @file The fake score model's plain diffusion loss on generator samples (DMD / DMD2 / AVDM2
 * Eq. 2): `L_psi = mean ||f_psi(x_t, t) - target||^2` with `x_t = alpha_t x0 + sigma_t eps`,
 * `x0 = sg(G_theta(...))` and the target of the fake model's prediction type:
 * eps (`epsilon`), x0 (`sample`), `v = alpha eps - sigma x0` (`v_prediction`), `eps - x0` (`flow`).
 * No classifier-free guidance and no conditioning dropout (the caller queries the fake model
 * plainly).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, alphaSigma, defineLoss, fromX0Eps, resolvePredictionType, type NoiseSchedule, type PredictionTarget } from '@fewstep/core';
import { stopGradient } from './stop-gradient.js';

/** Options of {@link fakeScoreDenoisingLoss}. */
export interface FakeScoreDenoisingOptions {
  /** Scale of the squared error (e.g. a loss weight of the recipe). @default 1 */
  weight?: number;
}

/** Inputs of {@link fakeScoreDenoisingLoss}. `x0`, `eps`, `t` are constants; `prediction` is differentiable. */
export interface FakeScoreDenoisingInputs {
  /** Generator sample `x0` `[B, ...]` (constant: wrapped in a stop-gradient). */
  x0: tf.Tensor;
  /** Noise `eps` used to form `x_t` `[B, ...]`. */
  eps: tf.Tensor;
  /** Model times `[B]` (the schedule's convention). */
  t: tf.Tensor;
  schedule: NoiseSchedule;
  /** Raw fake-model output `f_psi(x_t, t)` `[B, ...]` (differentiable w.r.t. the fake score's variables). */
  prediction: tf.Tensor;
  /** What `prediction` is: 'epsilon' / 'eps', 'sample' / 'x0', 'v_prediction' / 'v', 'flow'. */
  predictionType: PredictionTarget;
}

export const FAKE_SCORE_DEFAULTS: Readonly<Required<FakeScoreDenoisingOptions>> = Object.freeze({ weight: 1 });

/** The regression target of `predictionType` for `(x0, eps)` at `t` `[B, ...]` (a constant). */
export function denoisingTarget(x0: tf.Tensor, eps: tf.Tensor, t: tf.Tensor, schedule: NoiseSchedule, predictionType: PredictionTarget): tf.Tensor {
  const type = resolvePredictionType(predictionType);
  return tf.tidy(() => {
    const { alpha, sigma } = alphaSigma(schedule, t);
    return fromX0Eps(stopGradient(x0), stopGradient(eps), type, alpha, sigma);
  });
}

/**
 * Plain diffusion loss of the fake score model on generator samples. Trains `fakeScore`.
 * Metric: `mse` (unweighted).
 */
export const fakeScoreDenoisingLoss = defineLoss<FakeScoreDenoisingOptions, FakeScoreDenoisingInputs>({
  name: 'sdm:fake-score-denoising',
  description: "The fake score's denoising regression (eps / v / flow / x0 target) on generator samples.",
  equation: 'AVDM2 Eq. 2 (DMD fake score loss)',
  defaults: FAKE_SCORE_DEFAULTS,
  requires: ['fakeScore', 'generator'],
  trains: 'fakeScore',
  validate: (o) => {
    if (o.weight !== undefined && !(Number.isFinite(o.weight) && o.weight > 0)) {
      throw new ConfigError('weight', o.weight, 'a finite number > 0', 'use 1');
    }
  },
  compute: (inputs, options) => {
    const { weight } = { ...FAKE_SCORE_DEFAULTS, ...options };
    const want = inputs.x0.shape.join(',');
    for (const [what, x] of [['eps', inputs.eps], ['prediction', inputs.prediction]] as const) {
      if (x.shape.join(',') !== want) throw new ShapeError(what, x.shape, `[${inputs.x0.shape.join(', ')}] (the shape of x0)`);
    }
    return tf.tidy(() => {
      const target = denoisingTarget(inputs.x0, inputs.eps, inputs.t, inputs.schedule, inputs.predictionType);
      const mse = tf.mean(tf.squaredDifference(inputs.prediction, target)) as tf.Scalar;
      return { loss: tf.mul(mse, weight) as tf.Scalar, metrics: { mse } };
    });
  },
});
