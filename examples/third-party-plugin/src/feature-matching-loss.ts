/**
 * @file Feature matching on critic taps (Salimans et al. 2016, "Improved Techniques for Training
 * GANs", Sec. 3.1, the objective `|| E_x f(x) - E_z f(G(z)) ||_2^2`), summed over several taps:
 *
 *   L_FM = sum_l w_l * (1 / D_l) * sum_d | mean_b phi_l(x_fake)[b, d] - sg(mean_b phi_l(x_real)[b, d]) |^p
 *
 * - `phi_l` is the l-th tap of a frozen critic (e.g. the teacher's `block.i` activations of a noised
 *   sample, `[B, F, h, w, D]`); `d` runs over the `D_l` elements of one sample's tap;
 * - `p = 2` is Salimans et al.'s squared L2; `p = 1` an L1 variant (pix2pixHD Eq. 4 uses L1, per
 *   sample, between paired real and generated images: here the pairs are unpaired batches, so the
 *   batch means are compared instead);
 * - the `1 / D_l` normaliser (as pix2pixHD's `1 / N_i`) is our choice: Salimans et al. use one
 *   layer and no normaliser; with it taps of different sizes weigh alike under `w_l = 1`.
 *
 * Gradient: `dL / d phi_l(x_fake)[b, d] = w_l * p |Delta_d|^(p-1) sign(Delta_d) / (B * D_l)` with
 * `Delta = mean_b phi_l(x_fake) - mean_b phi_l(x_real)`; the real features are constants (wrapped in
 * a stop-gradient, so they may even be computed inside the differentiated closure).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError, defineLoss } from '@fewstep/core';
import { stopGradient } from '@fewstep/loss-sdm';

/** `'l2'`: squared L2 (Salimans et al. 2016 Sec. 3.1). `'l1'`: absolute difference. */
export type FeatureMatchingDistance = 'l2' | 'l1';
export const FEATURE_MATCHING_DISTANCES: readonly FeatureMatchingDistance[] = ['l2', 'l1'];

/** Options of {@link featureMatchingLoss}. */
export interface FeatureMatchingOptions {
  /** Distance between the batch-mean features. @default 'l2' (Salimans et al. 2016 Sec. 3.1) */
  distance: FeatureMatchingDistance;
  /**
   * Weight `w_l` of each tap, by tap name; a tap that is not listed weighs 1. Not in the paper
   * (one layer there). @default {}
   */
  tapWeights: Readonly<Record<string, number>>;
}

/** Inputs of {@link featureMatchingLoss}: critic taps by name, `[B, ...]` each. */
export interface FeatureMatchingInputs {
  /** Taps of generated samples (differentiable: the generator's sample through a frozen critic). */
  fake: Readonly<Record<string, tf.Tensor>>;
  /** Taps of real samples, same names and per-sample shapes; the batch size may differ (constant). */
  real: Readonly<Record<string, tf.Tensor>>;
}

/** Default options of {@link featureMatchingLoss}. */
export const FEATURE_MATCHING_DEFAULTS: Readonly<FeatureMatchingOptions> = Object.freeze({ distance: 'l2', tapWeights: Object.freeze({}) });

/** Throws a ConfigError for an unknown distance or a negative / non-finite tap weight. */
export function validateFeatureMatchingOptions(options: Partial<FeatureMatchingOptions>): void {
  if (options.distance !== undefined && !FEATURE_MATCHING_DISTANCES.includes(options.distance)) {
    throw new ConfigError('distance', options.distance, FEATURE_MATCHING_DISTANCES.map((d) => `'${d}'`).join(', '), "use 'l2' (Salimans et al. 2016)");
  }
  for (const [tap, w] of Object.entries(options.tapWeights ?? {})) {
    if (!(Number.isFinite(w) && w >= 0)) throw new ConfigError(`tapWeights['${tap}']`, w, 'a finite number >= 0', 'weigh a tap 0 to ignore it');
  }
}

function checkTaps({ fake, real }: FeatureMatchingInputs): string[] {
  const names = Object.keys(fake);
  if (names.length === 0) throw new ConfigError('fake', names, 'at least one critic tap', "pass { fake: { 'block.0': phi(x_fake) }, real: { 'block.0': phi(x_real) } }");
  for (const name of names) {
    const f = fake[name]!;
    const r = real[name];
    if (r === undefined) throw new ConfigError(`real['${name}']`, undefined, `the taps of fake: ${names.join(', ')}`, 'extract the same taps from real samples');
    if (f.rank < 2 || r.shape.slice(1).join(',') !== f.shape.slice(1).join(',')) {
      throw new ShapeError(`real['${name}']`, r.shape, `[B', ${f.shape.slice(1).join(', ')}] (the per-sample shape of fake['${name}'], rank >= 2)`, 'read both taps from the same critic at the same resolution');
    }
  }
  return names;
}

/**
 * `sum_l w_l / D_l * || mean_b fake_l - sg(mean_b real_l) ||_p^p`, one term per tap of `fake`.
 * @returns the scalar and one metric per tap (its unweighted term), keyed by tap name
 */
export function featureMatching(inputs: FeatureMatchingInputs, options: FeatureMatchingOptions): { loss: tf.Scalar; perTap: Record<string, tf.Scalar> } {
  const names = checkTaps(inputs);
  return tf.tidy(() => {
    const perTap: Record<string, tf.Scalar> = {};
    let loss = tf.scalar(0);
    for (const name of names) {
      const meanFake = tf.mean(inputs.fake[name]!, 0);
      const meanReal = stopGradient(tf.mean(inputs.real[name]!, 0));
      const delta = tf.sub(meanFake, meanReal);
      // mean over the D_l elements = (1 / D_l) sum_d.
      const term = tf.mean(options.distance === 'l1' ? tf.abs(delta) : tf.square(delta)) as tf.Scalar;
      perTap[name] = term;
      loss = tf.add(loss, tf.mul(term, options.tapWeights[name] ?? 1));
    }
    return { loss, perTap };
  });
}

/**
 * Feature matching on critic taps (Salimans et al. 2016 Sec. 3.1). Trains the generator; the
 * critic (a frozen teacher or discriminator) only supplies features: its variables must not be in
 * the list passed to `tf.variableGrads`. Metrics: each tap's unweighted term.
 */
export const featureMatchingLoss = defineLoss<FeatureMatchingOptions, FeatureMatchingInputs>({
  name: 'fm:feature-matching',
  description: 'Feature matching: sum_l w_l mean_d |mean_b phi_l(x_fake) - sg(mean_b phi_l(x_real))|^p on critic taps.',
  equation: 'Salimans et al. 2016 Sec. 3.1 (feature matching); pix2pixHD Eq. 4 (L1, multi-layer)',
  defaults: FEATURE_MATCHING_DEFAULTS,
  requires: ['generator', 'critic'],
  trains: 'generator',
  validate: validateFeatureMatchingOptions,
  compute: (inputs, options) => {
    const o = { ...FEATURE_MATCHING_DEFAULTS, ...options };
    const { loss, perTap } = featureMatching(inputs, o);
    return { loss, metrics: perTap };
  },
});
