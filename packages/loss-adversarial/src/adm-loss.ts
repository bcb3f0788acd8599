/**
 * @file Adversarial Distribution Matching (ADM, Eq. 7-8 and Algorithm 1 in Appendix A): a
 * hinge GAN on one-PF-ODE-step results of the fake model and of the real (teacher) model.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, defineLoss, forwardDiffuse, type Denoiser, type DenoiseOptions, type GuidanceScale, type Rng } from '@fewstep/core';
import { pfOdeStep } from './pf-ode-step.js';

/** Inputs of the ADM losses. `C` is the denoisers' conditioning. */
export interface AdmInputs<C = tf.Tensor> {
  /**
   * Generator sample x0_hat `[B, ...]`. Pass a thunk for the generator loss so that gradients
   * reach the generator; for the discriminator loss it is a constant.
   */
  x0Hat: tf.Tensor | (() => tf.Tensor);
  /** Noise eps `[B, ...]` of the forward diffusion x_t = alpha_t x0_hat + sigma_t eps. */
  eps: tf.Tensor;
  /** Model time t (one for the batch, or `[B]`), drawn by the caller (ADM: t ~ U(0, T)). */
  t: number | tf.Tensor;
  /** Fake model F_phi (frozen in both losses: its own denoising loss trains it). */
  fake: Denoiser<C>;
  /** Real model (teacher), frozen; guided with `options.realGuidanceScale` when set. */
  real: Denoiser<C>;
  /** D(x, t'): logits `[B]` or `[B, ...]` at model times t' = t - Delta t `[B]`. */
  discriminator: (x: tf.Tensor, t: tf.Tensor) => tf.Tensor;
  /** Conditioning of both models. */
  cond?: C;
  /** Unconditional input of the real model's CFG (undefined = call it without conditioning). */
  realUncond?: C;
  /** Rng to draw a `{ min, max }` guidance scale from. */
  rng?: Rng;
}

/** Options of the ADM losses. */
export interface AdmOptions {
  /**
   * Delta t as a fraction of the schedule's time range `tMax - tMin` (ADM: Delta t = T/64).
   * t - Delta t is clamped at `tMin`. @default 1/64
   */
  deltaTFraction: number;
  /**
   * CFG scale of the real model, in core's default formula `uncond + w (cond - uncond)`; a range
   * is drawn per call from `inputs.rng` (ADM: SDXL [6, 8], SD3.5 [3, 4], CogVideoX [5, 7]).
   * @default undefined (no guidance)
   */
  realGuidanceScale?: GuidanceScale;
}

const DEFAULTS: AdmOptions = { deltaTFraction: 1 / 64 };

function validate(o: AdmOptions): void {
  if (!(Number.isFinite(o.deltaTFraction) && o.deltaTFraction > 0 && o.deltaTFraction <= 1)) {
    throw new ConfigError('deltaTFraction', o.deltaTFraction, 'a number in (0, 1]', 'use 1/64 (ADM)');
  }
  const w = o.realGuidanceScale;
  if (w !== undefined && !(typeof w === 'number' ? Number.isFinite(w) : w.min <= w.max)) {
    throw new ConfigError('realGuidanceScale', w, 'a finite number or { min, max } with min <= max', 'use e.g. { min: 5, max: 7 }');
  }
}

/**
 * The ADM backward step (Algorithm 1): x_t = alpha_t x0_hat + sigma_t eps, then one PF-ODE step
 * to t' = max(t - Delta t, tMin) with the fake and with the (guided) real model.
 * @returns `{ xFake, xReal }` `[B, ...]` and `tPrev` `[B]` model times
 */
export function admBackwardStep<C>(inputs: AdmInputs<C>, options: AdmOptions): { xFake: tf.Tensor; xReal: tf.Tensor; tPrev: tf.Tensor } {
  const { fake, real } = inputs;
  if (fake.schedule.type !== real.schedule.type) {
    throw new ConfigError('real.schedule', real.schedule.type, `the fake model's schedule '${fake.schedule.type}'`, 'ADM steps both models on one schedule');
  }
  return tf.tidy(() => {
    const x0Hat = typeof inputs.x0Hat === 'function' ? inputs.x0Hat() : inputs.x0Hat;
    const b = x0Hat.shape[0] ?? 1;
    const s = fake.schedule;
    const deltaT = options.deltaTFraction * (s.tMax - s.tMin);
    const t = typeof inputs.t === 'number' ? tf.fill([b], inputs.t) : tf.cast(inputs.t, 'float32');
    const tPrev = tf.maximum(tf.sub(t, deltaT), s.tMin);
    const xt = forwardDiffuse(s, x0Hat, inputs.eps, t);
    const realOptions: DenoiseOptions<C> = { cond: inputs.cond };
    if (options.realGuidanceScale !== undefined) {
      realOptions.guidance = { uncond: inputs.realUncond, scale: options.realGuidanceScale, rng: inputs.rng };
    }
    const xFake = pfOdeStep(fake, xt, t, tPrev, { cond: inputs.cond });
    const xReal = pfOdeStep(real, xt, t, tPrev, realOptions);
    return { xFake, xReal, tPrev };
  });
}

/**
 * ADM generator loss `L_G = -E[D(x_fake_{t - Dt}, t - Dt)]` (Eq. 7). Trains the generator through
 * the frozen fake model and D; pass `x0Hat` as a thunk. Metric: `dFakeProb`.
 */
export const admGeneratorLoss = defineLoss<AdmOptions, AdmInputs<unknown>>({
  name: 'adv:adm-generator',
  description: 'ADM hinge generator loss on one-step PF-ODE results of the fake model.',
  equation: 'ADM Eq. 7, Algorithm 1',
  defaults: DEFAULTS,
  requires: ['generator', 'fakeScore', 'teacher', 'discriminator'],
  trains: 'generator',
  validate,
  compute: (inputs, options) =>
    tf.tidy(() => {
      const { xFake, tPrev } = admBackwardStep(inputs, options);
      const dFake = inputs.discriminator(xFake, tPrev);
      return { loss: tf.neg(tf.mean(dFake)) as tf.Scalar, metrics: { dFakeProb: tf.mean(tf.sigmoid(dFake)) as tf.Scalar } };
    }),
});

/**
 * ADM discriminator loss `L_D = E[relu(1 + D(x_fake))] + E[relu(1 - D(x_real))]` at t - Delta t
 * (Eq. 8). Trains D; x0_hat, both models and their results are constants. Metrics: `dRealProb`,
 * `dFakeProb`, `rt` (as in the GAN objectives).
 */
export const admDiscriminatorLoss = defineLoss<AdmOptions, AdmInputs<unknown>>({
  name: 'adv:adm-discriminator',
  description: 'ADM hinge discriminator loss: real-model vs fake-model PF-ODE steps.',
  equation: 'ADM Eq. 8, Algorithm 1',
  defaults: DEFAULTS,
  requires: ['discriminator', 'fakeScore', 'teacher'],
  trains: 'discriminator',
  validate,
  compute: (inputs, options) =>
    tf.tidy(() => {
      const { xFake, xReal, tPrev } = admBackwardStep(inputs, options);
      const dFake = inputs.discriminator(xFake, tPrev);
      const dReal = inputs.discriminator(xReal, tPrev);
      const loss = tf.add(tf.mean(tf.relu(tf.add(1, dFake))), tf.mean(tf.relu(tf.sub(1, dReal)))) as tf.Scalar;
      return {
        loss,
        metrics: {
          dRealProb: tf.mean(tf.sigmoid(dReal)) as tf.Scalar,
          dFakeProb: tf.mean(tf.sigmoid(dFake)) as tf.Scalar,
          rt: tf.mean(tf.sign(dReal)) as tf.Scalar,
        },
      };
    }),
});
