/**
 * @file MCM's mixed trajectory distillation (MCM Eq. 7-9).
 *
 * Besides starting consistency distillation from the forward-diffused real/teacher data, MCM also
 * starts from the student's own one-step generation, re-noised to time t (Eq. 7):
 * `x_t^gen = alpha_t f_theta(x_T, T) + sigma_t eps`, and mixes the two objectives (Eq. 9):
 *
 * `L = lambda_real (L_MCD + lambda_adv L_adv) + (1 - lambda_real) (L_MCD^gen + lambda_adv L_adv^gen)`
 *
 * with lambda_real = 0.5 and lambda_adv = 1 in the paper (lambda_real = 0 alone can collapse).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, defineLoss, forwardDiffuse, type NoiseSchedule } from '@fewstep/core';

/**
 * MCM Eq. 7: the generated-trajectory start `alpha_t x0Gen + sigma_t eps`. Compute `x0Gen`
 * (`f_theta(x_T, T)`) outside the differentiated function: it is a constant starting point.
 * @param x0Gen `[B, ...]` the student's one-step sample
 * @param eps `[B, ...]` fresh standard normal noise
 * @param t model time (number) or per-sample `[B]` times
 * @returns `[B, ...]`
 */
export function generatedTrajectoryStart(schedule: NoiseSchedule, x0Gen: tf.Tensor, eps: tf.Tensor, t: number | tf.Tensor): tf.Tensor {
  return forwardDiffuse(schedule, x0Gen, eps, t);
}

/** Options of {@link mixedTrajectoryLoss} (MCM Eq. 9). */
export interface MixedTrajectoryOptions {
  /** lambda_real in [0, 1], weight of the real-data trajectory. @default 0.5 */
  lambdaReal: number;
  /** lambda_adv >= 0, weight of the adversarial terms. @default 1 */
  lambdaAdv: number;
}

/** Inputs of {@link mixedTrajectoryLoss}: already computed scalar losses (differentiable). */
export interface MixedTrajectoryInputs {
  /** L_MCD on the real/teacher trajectory. */
  real: tf.Scalar;
  /** L_MCD^gen on the generated trajectory. */
  generated: tf.Scalar;
  /** L_adv on the real trajectory; omitted = 0. */
  realAdversarial?: tf.Scalar;
  /** L_adv^gen on the generated trajectory; omitted = 0. */
  generatedAdversarial?: tf.Scalar;
}

/** MCM Eq. 9: the lambda_real mix of real- and generated-trajectory objectives. */
export const mixedTrajectoryLoss = defineLoss<MixedTrajectoryOptions, MixedTrajectoryInputs>({
  name: 'consistency:mixed-trajectory',
  description: 'lambda_real (L_MCD + lambda_adv L_adv) + (1 - lambda_real)(L_MCD^gen + lambda_adv L_adv^gen)',
  equation: 'MCM Eq. 7-9',
  defaults: { lambdaReal: 0.5, lambdaAdv: 1 },
  requires: ['student', 'emaStudent', 'teacher'],
  trains: 'student',
  validate: (o) => {
    if (!(o.lambdaReal >= 0 && o.lambdaReal <= 1)) throw new ConfigError('lambdaReal', o.lambdaReal, 'a number in [0, 1]', 'use 0.5 (MCM Table 6)');
    if (!(o.lambdaAdv >= 0 && Number.isFinite(o.lambdaAdv))) throw new ConfigError('lambdaAdv', o.lambdaAdv, 'a finite number >= 0', 'use 1 (MCM)');
  },
  compute: ({ real, generated, realAdversarial, generatedAdversarial }, { lambdaReal, lambdaAdv }) =>
    tf.tidy(() => {
      const branch = (cd: tf.Scalar, adv?: tf.Scalar): tf.Scalar => (adv === undefined ? cd : tf.add(cd, tf.mul(adv, lambdaAdv)));
      const realTotal = branch(real, realAdversarial);
      const genTotal = branch(generated, generatedAdversarial);
      const loss = tf.add(tf.mul(realTotal, lambdaReal), tf.mul(genTotal, 1 - lambdaReal)) as tf.Scalar;
      return { loss, metrics: { real: tf.clone(realTotal), generated: tf.clone(genTotal) } };
    }),
});
