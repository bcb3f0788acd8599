/**
 * @file Score distribution matching (AVDM2 Eq. 4, and Eq. 8 for frames): a surrogate loss whose
 * gradient with respect to the generator sample `x = G_theta(eps)` is
 * `w(t) (eps_phi(x_t, t) - eps_psi(x_t, t))`, with `x_t = alpha_t x + sigma_t eps'`.
 *
 * Surrogate: `L = 1/2 sum ||x - sg(x - g)||^2` with `g = w(t)(eps_phi - eps_psi)` (reduction
 * `'sum'`), so `dL/dx = g` exactly and the value is `1/2 sum g^2`; reduction `'mean'` uses
 * `1/2 mean` instead (gradient `g / N`, N = number of elements).
 *
 * Weightings w(t) (the paper leaves w(t) open; these are our documented choices):
 * - `'constant'`: w = 1.
 * - `'snr'`: w = alpha_t / sigma_t. Since the score is `-eps / sigma_t` and `dx_t/dx = alpha_t`,
 *   this makes `g` the exact gradient of `log p_fake(x_t) - log p_real(x_t)` with respect to `x`
 *   (the per-`t` KL gradient of Eq. 4).
 * - `'dmd'`: w = (sigma_t / alpha_t) / (mean_{non-batch} |x - x0_phi| + epsilon) with
 *   `x0_phi = (x_t - sigma_t eps_phi) / alpha_t`: then `g = (x0_psi - x0_phi) / (...)`, the DMD
 *   gradient of ADM Eq. 5 (see `dmd-loss.ts`), written with eps-predictions.
 * Per-sample `weights` `[B]` given in the inputs override the weighting.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, defineLoss, type NoiseSchedule } from '@fewstep/core';
import { validateNormalizerEpsilon } from './dmd-loss.js';
import { perSample, perSampleMeanAbs } from './per-sample-l1.js';
import { stopGradient } from './stop-gradient.js';

/** The w(t) choices of {@link scoreDistributionMatchingLoss}; see the file comment. */
export type SdmWeighting = 'constant' | 'dmd' | 'snr';
export const SDM_WEIGHTINGS: readonly SdmWeighting[] = ['constant', 'dmd', 'snr'];

/** How the surrogate is reduced. */
export type SdmReduction = 'sum' | 'mean';
export const SDM_REDUCTIONS: readonly SdmReduction[] = ['sum', 'mean'];

/** Options of {@link scoreDistributionMatchingLoss} (AVDM2 Eq. 4 / 8). */
export interface ScoreDistributionMatchingOptions {
  /** w(t) of Eq. 4 (see the file comment). @default 'dmd' */
  weighting?: SdmWeighting;
  /** `'sum'`: dL/dx = g exactly; `'mean'`: dL/dx = g / N. @default 'sum' */
  reduction?: SdmReduction;
  /** Added to the `'dmd'` normaliser (as in `dmdLoss`). @default 1e-6 */
  normalizerEpsilon?: number;
}

/**
 * Inputs of {@link scoreDistributionMatchingLoss}. Everything but `sample` is a constant (wrapped in
 * a stop-gradient by the loss).
 */
export interface ScoreDistributionMatchingInputs {
  /** Generator sample `x = G_theta(eps)` `[B, ...]` (differentiable). */
  sample: tf.Tensor;
  /** Teacher noise prediction `eps_phi(x_t, t)` `[B, ...]`. */
  epsPhi: tf.Tensor;
  /** Fake score noise prediction `eps_psi(x_t, t)` `[B, ...]`. */
  epsPsi: tf.Tensor;
  /** Model times `[B]` of `x_t` (needed by `'snr'` and `'dmd'` unless `weights` is given). */
  t?: tf.Tensor;
  /** The schedule of `t` (needed with `t`). */
  schedule?: NoiseSchedule;
  /** The noisy sample `x_t` `[B, ...]` the predictions were made at (needed by `'dmd'`). */
  xt?: tf.Tensor;
  /** Per-sample weights `[B]`, overriding `weighting`. */
  weights?: tf.Tensor;
}

export const SDM_DEFAULTS: Readonly<Required<ScoreDistributionMatchingOptions>> = Object.freeze({
  weighting: 'dmd',
  reduction: 'sum',
  normalizerEpsilon: 1e-6,
});

/** Throws a ConfigError for an unknown weighting / reduction or a bad epsilon. */
export function validateSdmOptions(o: ScoreDistributionMatchingOptions): void {
  if (o.weighting !== undefined && !SDM_WEIGHTINGS.includes(o.weighting)) {
    throw new ConfigError('weighting', o.weighting, SDM_WEIGHTINGS.map((w) => `'${w}'`).join(', '), "use 'dmd' (DMD normaliser) or 'snr'");
  }
  if (o.reduction !== undefined && !SDM_REDUCTIONS.includes(o.reduction)) {
    throw new ConfigError('reduction', o.reduction, "'sum', 'mean'", "use 'sum' (gradient equals w(t)(eps_phi - eps_psi))");
  }
  validateNormalizerEpsilon(o.normalizerEpsilon);
}

/** w(t) per sample `[B]` (a constant), from the inputs and the weighting. */
function sdmWeights(inputs: ScoreDistributionMatchingInputs, o: Required<ScoreDistributionMatchingOptions>): tf.Tensor1D {
  const B = inputs.sample.shape[0] ?? 1;
  if (inputs.weights !== undefined) {
    if (inputs.weights.rank !== 1 || inputs.weights.shape[0] !== B) throw new ShapeError('weights', inputs.weights.shape, `[${B}]`);
    return tf.cast(stopGradient(inputs.weights), 'float32') as tf.Tensor1D;
  }
  if (o.weighting === 'constant') return tf.ones([B]) as tf.Tensor1D;
  const { t, schedule } = inputs;
  if (t === undefined || schedule === undefined) {
    throw new ConfigError('inputs.t / inputs.schedule', undefined, 'a [B] time tensor and its schedule', `weighting '${o.weighting}' needs t and the schedule, or pass inputs.weights`);
  }
  const alpha = schedule.alphaTensor(t);
  const sigma = schedule.sigmaTensor(t);
  if (o.weighting === 'snr') return tf.div(alpha, sigma) as tf.Tensor1D;
  if (inputs.xt === undefined) {
    throw new ConfigError('inputs.xt', undefined, 'the noisy sample x_t [B, ...]', "weighting 'dmd' needs x_t to form the teacher's x0-prediction");
  }
  const rank = inputs.sample.rank;
  const x0Phi = tf.div(tf.sub(stopGradient(inputs.xt), tf.mul(perSample(sigma, rank), stopGradient(inputs.epsPhi))), perSample(alpha, rank));
  const normalizer = perSampleMeanAbs(stopGradient(inputs.sample), x0Phi);
  return tf.div(tf.div(sigma, alpha), tf.add(normalizer, o.normalizerEpsilon)) as tf.Tensor1D;
}

/**
 * The surrogate of Eq. 4 as a function (used by the frame SDM loss too). Runs in a tidy.
 * @returns the loss, `g = w(t)(eps_phi - eps_psi)` `[B, ...]` RMS and the mean weight, as scalars
 */
export function scoreDistributionMatching(
  inputs: ScoreDistributionMatchingInputs,
  options: ScoreDistributionMatchingOptions = {},
): { loss: tf.Scalar; gradRms: tf.Scalar; meanWeight: tf.Scalar } {
  const o = { ...SDM_DEFAULTS, ...options };
  const want = inputs.sample.shape.join(',');
  for (const [what, x] of [['epsPhi', inputs.epsPhi], ['epsPsi', inputs.epsPsi], ['xt', inputs.xt]] as const) {
    if (x !== undefined && x.shape.join(',') !== want) throw new ShapeError(what, x.shape, `[${inputs.sample.shape.join(', ')}] (the shape of sample)`);
  }
  return tf.tidy(() => {
    const w = sdmWeights(inputs, o);
    const g = tf.mul(perSample(w, inputs.sample.rank), tf.sub(stopGradient(inputs.epsPhi), stopGradient(inputs.epsPsi)));
    const target = tf.sub(stopGradient(inputs.sample), g);
    const sq = tf.squaredDifference(inputs.sample, target);
    const loss = tf.mul(o.reduction === 'sum' ? tf.sum(sq) : tf.mean(sq), 0.5) as tf.Scalar;
    return { loss, gradRms: tf.sqrt(tf.mean(tf.square(g))) as tf.Scalar, meanWeight: tf.mean(w) as tf.Scalar };
  });
}

/**
 * Score distribution matching (AVDM2 Eq. 4): trains the generator with the gradient
 * `w(t)(eps_phi - eps_psi)`. Metrics: `gradRms`, `meanWeight`.
 */
export const scoreDistributionMatchingLoss = defineLoss<ScoreDistributionMatchingOptions, ScoreDistributionMatchingInputs>({
  name: 'sdm:score-distribution-matching',
  description: 'Surrogate loss whose gradient w.r.t. the generator sample is w(t)(eps_phi - eps_psi).',
  equation: 'AVDM2 Eq. 4 (and Eq. 8)',
  defaults: SDM_DEFAULTS,
  requires: ['generator', 'teacher', 'fakeScore'],
  trains: 'generator',
  validate: validateSdmOptions,
  compute: (inputs, options) => {
    const { loss, gradRms, meanWeight } = scoreDistributionMatching(inputs, options);
    return { loss, metrics: { gradRms, meanWeight } };
  },
});
