/**
 * @file GAN objectives on discriminator logits: hinge (Lim & Ye 2017; ADM Eq. 8) and the
 * non-saturating logistic loss (Goodfellow et al. 2014; StyleGAN2), with discriminator health
 * metrics (mean sigmoid of the real/fake logits and the StyleGAN2-ADA overfitting signal r_t).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, defineLoss } from '@fewstep/core';

/**
 * Discriminator logits `[B]` or `[B, ...]` (patch logits are averaged over every element). A
 * thunk is evaluated inside `compute`, so gradients reach the variables it reads (pass a thunk
 * when the logits depend on the trained role; a tensor is a constant for the gradient).
 */
export type Logits = tf.Tensor | (() => tf.Tensor);

/** Inputs of a discriminator objective. */
export interface DiscriminatorObjectiveInputs {
  /** D(x_real) `[B, ...]`. */
  realLogits: Logits;
  /** D(x_fake) `[B, ...]`; the fake samples are constants (computed outside the D update). */
  fakeLogits: Logits;
}

/** Inputs of a generator objective. */
export interface GeneratorObjectiveInputs {
  /** D(G(z)) `[B, ...]`, a thunk so that gradients reach the generator through the frozen D. */
  fakeLogits: Logits;
}

/** Options of the hinge objectives. */
export interface HingeOptions {
  /** Margin m in `relu(m - D(real)) + relu(m + D(fake))` (ADM Eq. 8 uses 1). @default 1 */
  margin: number;
}

/** The logistic objectives have no option. */
export type LogisticOptions = Record<never, never>;

function evaluate(logits: Logits): tf.Tensor {
  return typeof logits === 'function' ? logits() : logits;
}

function mean(x: tf.Tensor): tf.Scalar {
  return tf.mean(x) as tf.Scalar;
}

/**
 * Health metrics of D: `dRealProb` = E[sigmoid(D(real))], `dFakeProb` = E[sigmoid(D(fake))] and
 * `rt` = E[sign(D(real))], the overfitting heuristic of StyleGAN2-ADA (Karras et al. 2020, Sec. 3:
 * r_t near 1 means D is confident on every real sample, i.e. it overfits).
 */
function discriminatorMetrics(real: tf.Tensor | undefined, fake: tf.Tensor): Record<string, tf.Scalar> {
  const metrics: Record<string, tf.Scalar> = { dFakeProb: mean(tf.sigmoid(fake)) };
  if (real !== undefined) {
    metrics.dRealProb = mean(tf.sigmoid(real));
    metrics.rt = mean(tf.sign(real));
  }
  return metrics;
}

function validateHinge(o: HingeOptions): void {
  if (!(Number.isFinite(o.margin) && o.margin > 0)) {
    throw new ConfigError('margin', o.margin, 'a finite number > 0', 'use 1 (the standard hinge loss)');
  }
}

/**
 * Hinge discriminator loss `L_D = E[relu(m - D(real))] + E[relu(m + D(fake))]` (ADM Eq. 8, m = 1).
 * Trains the discriminator; fake samples are constants. Metrics: see {@link discriminatorMetrics}.
 */
export const hingeDiscriminatorLoss = defineLoss<HingeOptions, DiscriminatorObjectiveInputs>({
  name: 'adv:hinge-discriminator',
  description: 'Hinge GAN loss for the discriminator.',
  equation: 'ADM Eq. 8 (hinge, Lim & Ye 2017)',
  defaults: { margin: 1 },
  requires: ['discriminator'],
  trains: 'discriminator',
  validate: validateHinge,
  compute: (inputs, { margin }) =>
    tf.tidy(() => {
      const real = evaluate(inputs.realLogits);
      const fake = evaluate(inputs.fakeLogits);
      const loss = tf.add(mean(tf.relu(tf.sub(margin, real))), mean(tf.relu(tf.add(margin, fake)))) as tf.Scalar;
      return { loss, metrics: discriminatorMetrics(real, fake) };
    }),
});

/**
 * Hinge generator loss `L_G = -E[D(fake)]` (ADM Eq. 7). Trains the generator through a frozen D.
 * The margin does not enter the generator loss (it is accepted for symmetry with the D loss).
 */
export const hingeGeneratorLoss = defineLoss<HingeOptions, GeneratorObjectiveInputs>({
  name: 'adv:hinge-generator',
  description: 'Hinge GAN loss for the generator.',
  equation: 'ADM Eq. 7 (hinge generator loss)',
  defaults: { margin: 1 },
  requires: ['generator', 'discriminator'],
  trains: 'generator',
  validate: validateHinge,
  compute: (inputs) =>
    tf.tidy(() => {
      const fake = evaluate(inputs.fakeLogits);
      return { loss: tf.neg(mean(fake)), metrics: discriminatorMetrics(undefined, fake) };
    }),
});

/**
 * Non-saturating logistic discriminator loss
 * `L_D = E[softplus(-D(real))] + E[softplus(D(fake))]` (Goodfellow et al. 2014, Eq. 1 written in
 * logits; StyleGAN2). Trains the discriminator; fake samples are constants.
 */
export const logisticDiscriminatorLoss = defineLoss<LogisticOptions, DiscriminatorObjectiveInputs>({
  name: 'adv:logistic-discriminator',
  description: 'Logistic (cross-entropy) GAN loss for the discriminator.',
  equation: 'Goodfellow et al. 2014 Eq. 1 (logistic, in logits)',
  defaults: {},
  requires: ['discriminator'],
  trains: 'discriminator',
  compute: (inputs) =>
    tf.tidy(() => {
      const real = evaluate(inputs.realLogits);
      const fake = evaluate(inputs.fakeLogits);
      const loss = tf.add(mean(tf.softplus(tf.neg(real))), mean(tf.softplus(fake))) as tf.Scalar;
      return { loss, metrics: discriminatorMetrics(real, fake) };
    }),
});

/**
 * Non-saturating logistic generator loss `L_G = E[softplus(-D(fake))]` = -E[log sigmoid(D(fake))]
 * (Goodfellow et al. 2014, Sec. 3). Trains the generator through a frozen D.
 */
export const logisticGeneratorLoss = defineLoss<LogisticOptions, GeneratorObjectiveInputs>({
  name: 'adv:logistic-generator',
  description: 'Non-saturating logistic GAN loss for the generator.',
  equation: 'Goodfellow et al. 2014 Sec. 3 (non-saturating)',
  defaults: {},
  requires: ['generator', 'discriminator'],
  trains: 'generator',
  compute: (inputs) =>
    tf.tidy(() => {
      const fake = evaluate(inputs.fakeLogits);
      return { loss: mean(tf.softplus(tf.neg(fake))), metrics: discriminatorMetrics(undefined, fake) };
    }),
});
