/**
 * @file R1 gradient penalty (Mescheder et al. 2018, Eq. 9), with StyleGAN2's lazy regularisation.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, defineLoss } from '@fewstep/core';

/** Inputs of {@link r1Penalty}. */
export interface R1PenaltyInputs {
  /** The discriminator: `[B, ...]` inputs to logits `[B]` or `[B, ...]` (summed per sample). */
  discriminator: (x: tf.Tensor) => tf.Tensor;
  /** Real samples x_real `[B, ...]` (constants). */
  real: tf.Tensor;
}

/** Options of {@link r1Penalty}. */
export interface R1PenaltyOptions {
  /** gamma in `gamma / 2 * E||grad_x D(x_real)||^2` (Mescheder et al. 2018, Eq. 9). @default 10 */
  gamma: number;
  /**
   * Lazy regularisation (StyleGAN2, Karras et al. 2020, Sec. 3.1): the caller applies the penalty
   * only every `lazyInterval` D steps, and the loss multiplies its weight by `lazyInterval` so that
   * the penalty's average strength stays the same. The loss does not count steps itself.
   * @default 1 (every step)
   */
  lazyInterval: number;
}

/**
 * `L_R1 = lazyInterval * gamma / 2 * E_b ||grad_x sum D(x_b)||^2`, the squared norm of D's input
 * gradient at real samples (per sample, averaged over the batch). Trains the discriminator: the
 * result is differentiable in D's variables (a second-order gradient through `tf.grad`).
 */
export const r1Penalty = defineLoss<R1PenaltyOptions, R1PenaltyInputs>({
  name: 'adv:r1-penalty',
  description: 'R1 gradient penalty on real samples (lazy).',
  equation: 'Mescheder et al. 2018 Eq. 9; StyleGAN2 Sec. 3.1 (lazy)',
  defaults: { gamma: 10, lazyInterval: 1 },
  requires: ['discriminator'],
  trains: 'discriminator',
  validate: (o) => {
    if (!(Number.isFinite(o.gamma) && o.gamma >= 0)) {
      throw new ConfigError('gamma', o.gamma, 'a finite number >= 0', 'use 10 (a common default) or tune per dataset');
    }
    if (!(Number.isInteger(o.lazyInterval) && o.lazyInterval >= 1)) {
      throw new ConfigError('lazyInterval', o.lazyInterval, 'an integer >= 1', 'use 1 (every step) or 16 (StyleGAN2)');
    }
  },
  compute: ({ discriminator, real }, { gamma, lazyInterval }) =>
    tf.tidy(() => {
      // Sum over the batch: each sample's logits depend only on that sample, so the gradient of
      // the sum is the per-sample input gradient.
      const grad = tf.grad((x: tf.Tensor) => tf.sum(discriminator(x)))(real);
      const sqNorm = tf.sum(tf.reshape(tf.square(grad), [real.shape[0] ?? 1, -1]), 1);
      const loss = tf.mul(tf.mean(sqNorm), (gamma / 2) * lazyInterval) as tf.Scalar;
      return { loss, metrics: { gradNormSq: tf.mean(sqNorm) as tf.Scalar } };
    }),
});
