/**
 * @file DMD distribution matching loss (ADM / DMDX paper Eq. 4-6, the DMD baseline).
 *
 * With the real (teacher, CFG) x0-prediction `F_phi(x_t, t)` and the fake score's x0-prediction
 * `f_psi(x_t, t)` at the same noisy generator sample `x_t`:
 * - `grad = (f_psi(x_t, t) - F_phi(x_t, t)) / (mean_{non-batch} |x0_hat - F_phi(x_t, t)| + epsilon)`
 *   (per-sample L1 normaliser, Eq. 5);
 * - `L_DMD = mean ||x0_hat - sg(x0_hat - grad)||^2` (Eq. 6), whose gradient with respect to
 *   `x0_hat` is exactly `2 grad / N` (N = number of elements of `x0_hat`) and whose value is
 *   `mean(grad^2)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, defineLoss } from '@fewstep/core';
import { perSample, perSampleMeanAbs } from './per-sample-l1.js';
import { stopGradient } from './stop-gradient.js';

/** Options of {@link dmdLoss} (ADM Eq. 4-6). */
export interface DmdLossOptions {
  /**
   * Added to the per-sample L1 normaliser of Eq. 5 so that a generator sample equal to the real
   * prediction does not divide by zero. Not in the paper (our choice; small against typical
   * latent magnitudes ~1). @default 1e-6
   */
  normalizerEpsilon?: number;
}

/**
 * Inputs of {@link dmdLoss}. `fakeX0` and `realX0` are treated as constants: the loss wraps them
 * in a stop-gradient, so they may be computed from `x0Hat` inside the differentiated closure.
 */
export interface DmdLossInputs {
  /** Generator output `x0_hat = G_theta(...)` `[B, ...]` (differentiable). */
  x0Hat: tf.Tensor;
  /** Fake score's x0-prediction `f_psi(x_t, t)` at `x_t = alpha_t x0_hat + sigma_t eps` `[B, ...]` (constant). */
  fakeX0: tf.Tensor;
  /** Real score's x0-prediction `F_phi(x_t, t)` (with CFG, computed by the caller) `[B, ...]` (constant). */
  realX0: tf.Tensor;
}

/** Default options of {@link dmdLoss}. */
export const DMD_LOSS_DEFAULTS: Readonly<Required<DmdLossOptions>> = Object.freeze({ normalizerEpsilon: 1e-6 });

/**
 * The normalised DMD gradient direction (ADM Eq. 5), outside any gradient path.
 * @param x0Hat,fakeX0,realX0 `[B, ...]`
 * @returns `grad` `[B, ...]` and the per-sample normaliser `[B]` (without epsilon)
 */
export function dmdGradient(
  x0Hat: tf.Tensor,
  fakeX0: tf.Tensor,
  realX0: tf.Tensor,
  normalizerEpsilon: number = DMD_LOSS_DEFAULTS.normalizerEpsilon,
): { grad: tf.Tensor; normalizer: tf.Tensor1D } {
  return tf.tidy(() => {
    const x = stopGradient(x0Hat);
    const real = stopGradient(realX0);
    const fake = stopGradient(fakeX0);
    const normalizer = perSampleMeanAbs(x, real);
    const denom = perSample(tf.add(normalizer, normalizerEpsilon), x.rank);
    return { grad: tf.div(tf.sub(fake, real), denom), normalizer };
  });
}

function checkShapes(inputs: DmdLossInputs): void {
  const want = inputs.x0Hat.shape;
  for (const [what, t] of [['fakeX0', inputs.fakeX0], ['realX0', inputs.realX0]] as const) {
    if (t.shape.join(',') !== want.join(',')) {
      throw new ShapeError(what, t.shape, `[${want.join(', ')}] (the shape of x0Hat)`, 'predict x0 at the noised generator sample');
    }
  }
}

/** Rejects a negative or non-finite `normalizerEpsilon`. */
export function validateNormalizerEpsilon(normalizerEpsilon: number | undefined): void {
  if (normalizerEpsilon !== undefined && !(Number.isFinite(normalizerEpsilon) && normalizerEpsilon >= 0)) {
    throw new ConfigError('normalizerEpsilon', normalizerEpsilon, 'a finite number >= 0', 'use the default 1e-6');
  }
}

/**
 * DMD distribution matching (ADM Eq. 4-6). Trains the generator; the fake score and the teacher
 * only supply constant x0-predictions. Metrics: `gradNorm` (RMS of `grad`) and `normalizer` (batch
 * mean of the per-sample L1 normaliser).
 */
export const dmdLoss = defineLoss<DmdLossOptions, DmdLossInputs>({
  name: 'sdm:dmd',
  description: 'DMD distribution matching: mean ||x0_hat - sg(x0_hat - grad)||^2 with the L1-normalised score difference.',
  equation: 'ADM Eq. 4-6 (DMD)',
  defaults: DMD_LOSS_DEFAULTS,
  requires: ['generator', 'teacher', 'fakeScore'],
  trains: 'generator',
  validate: (o) => validateNormalizerEpsilon(o.normalizerEpsilon),
  compute: (inputs, options) => {
    checkShapes(inputs);
    const { normalizerEpsilon } = { ...DMD_LOSS_DEFAULTS, ...options };
    return tf.tidy(() => {
      const { grad, normalizer } = dmdGradient(inputs.x0Hat, inputs.fakeX0, inputs.realX0, normalizerEpsilon);
      const target = tf.sub(stopGradient(inputs.x0Hat), grad);
      const loss = tf.mean(tf.squaredDifference(inputs.x0Hat, target)) as tf.Scalar;
      return {
        loss,
        metrics: { gradNorm: tf.sqrt(tf.mean(tf.square(grad))) as tf.Scalar, normalizer: tf.mean(normalizer) as tf.Scalar },
      };
    });
  },
});
