/**
 * @file The `Denoiser` contract (a network plus its schedule and prediction type) and helpers
 * that return any prediction type, with optional conditioning and classifier-free guidance.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { alphaSigma } from './forward-diffusion.js';
import {
  applyGuidance,
  DEFAULT_GUIDANCE_FORMULA,
  resolveGuidanceScale,
  type GuidanceFormula,
  type GuidanceScale,
} from './guidance.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { fromX0Eps, resolvePredictionType, toX0Eps, type PredictionTarget, type PredictionType } from './prediction-type.js';
import type { Rng } from './rng.js';

/**
 * A denoising network with its schedule and parameterization.
 * `C` is the conditioning the network takes (text embeddings, an image embedding, mode weights...).
 *
 * @example
 * const teacher: Denoiser = {
 *   schedule: flowMatchingSchedule({ shift: 7 }),
 *   predictionType: 'flow',
 *   predict: (xt, t, cond) => net.apply(xt, tf.mul(t, 1000), cond), // net embeds 1000 t
 * };
 */
export interface Denoiser<C = tf.Tensor> {
  readonly schedule: NoiseSchedule;
  readonly predictionType: PredictionType;
  /**
   * Network forward passes per `predict` call (2 for a classifier-free-guided wrapper, which
   * evaluates the network on the conditional and the unconditional input). @default 1
   */
  readonly evaluationsPerCall?: number;
  /**
   * The raw prediction.
   * @param xt noisy input `[B, ...]` (videos `[B, F, H, W, C]`)
   * @param t model times `[B]` (see the time convention in `noise-schedule.ts`)
   * @param cond optional conditioning
   * @returns `[B, ...]` prediction of type `predictionType`
   */
  predict(xt: tf.Tensor, t: tf.Tensor, cond?: C): tf.Tensor;
}

/** Conditioning and guidance for one query. */
export interface DenoiseOptions<C> {
  cond?: C;
  /**
   * Classifier-free guidance. `uncond` is the unconditional input (undefined = call without
   * conditioning); `scale` is in `formula`'s convention (default `'uncond + w * (cond - uncond)'`).
   * A `{ min, max }` scale is drawn uniformly per call from `rng`.
   */
  guidance?: { uncond?: C; scale: GuidanceScale; formula?: GuidanceFormula; rng?: Rng };
}

/** `t` as a `[B]` float32 tensor. */
export function timeTensor(t: number | tf.Tensor, batch: number): tf.Tensor {
  return typeof t === 'number' ? tf.fill([batch], t, 'float32') : tf.cast(t, 'float32');
}

/** The raw prediction, with guidance applied when requested (two network calls then). */
export function predictRaw<C>(denoiser: Denoiser<C>, xt: tf.Tensor, t: number | tf.Tensor, options: DenoiseOptions<C> = {}): tf.Tensor {
  return tf.tidy(() => {
    const tt = timeTensor(t, xt.shape[0] ?? 1);
    const g = options.guidance;
    if (g === undefined) return denoiser.predict(xt, tt, options.cond);
    const w = resolveGuidanceScale(g.scale, g.rng);
    const cond = denoiser.predict(xt, tt, options.cond);
    const uncond = denoiser.predict(xt, tt, g.uncond);
    return applyGuidance(cond, uncond, w, g.formula ?? DEFAULT_GUIDANCE_FORMULA);
  });
}

/** `(x0, eps)` implied by the (guided) prediction at `(x_t, t)`. */
export function predictX0Eps<C>(
  denoiser: Denoiser<C>,
  xt: tf.Tensor,
  t: number | tf.Tensor,
  options: DenoiseOptions<C> = {},
): { x0: tf.Tensor; eps: tf.Tensor } {
  return tf.tidy(() => {
    const raw = predictRaw(denoiser, xt, t, options);
    const { alpha, sigma } = typeof t === 'number' ? alphaSigma(denoiser.schedule, t) : alphaSigma(denoiser.schedule, t);
    return toX0Eps(raw, denoiser.predictionType, xt, alpha, sigma);
  });
}

/**
 * Any prediction type from the denoiser: `'x0'`/`'sample'`, `'eps'`/`'epsilon'`, `'v'`/`'v_prediction'`
 * or `'flow'` (`eps - x0`), with optional conditioning and guidance.
 * @example predictAs(teacher, 'x0', xt, 999, { cond: text, guidance: { uncond: empty, scale: 7.5 } })
 */
export function predictAs<C>(
  denoiser: Denoiser<C>,
  target: PredictionTarget,
  xt: tf.Tensor,
  t: number | tf.Tensor,
  options: DenoiseOptions<C> = {},
): tf.Tensor {
  const type = resolvePredictionType(target, 'target');
  return tf.tidy(() => {
    const raw = predictRaw(denoiser, xt, t, options);
    if (type === denoiser.predictionType) return raw;
    const { alpha, sigma } = typeof t === 'number' ? alphaSigma(denoiser.schedule, t) : alphaSigma(denoiser.schedule, t);
    const { x0, eps } = toX0Eps(raw, denoiser.predictionType, xt, alpha, sigma);
    return fromX0Eps(x0, eps, type, alpha, sigma);
  });
}

/**
 * Wraps a denoiser with classifier-free guidance: `predict(x, t, cond)` evaluates `cond` and
 * `uncond` and combines them; a `{ min, max }` scale is drawn once per `predict` call.
 * `evaluationsPerCall` doubles, so samplers report the real network cost.
 */
export function guidedDenoiser<C>(
  denoiser: Denoiser<C>,
  guidance: { uncond?: C; scale: GuidanceScale; formula?: GuidanceFormula; rng?: Rng },
): Denoiser<C> {
  if (typeof guidance.scale !== 'number' && guidance.rng === undefined) {
    throw new ConfigError('guidance.rng', undefined, 'a seeded Rng', 'a guidance range needs an rng to draw the scale from');
  }
  return {
    schedule: denoiser.schedule,
    predictionType: denoiser.predictionType,
    evaluationsPerCall: 2 * (denoiser.evaluationsPerCall ?? 1),
    predict: (xt, t, cond) => predictRaw(denoiser, xt, t, { cond, guidance }),
  };
}

/** Wraps a denoiser so that it reports `to` instead of its own prediction type (exact conversion). */
export function asPredictionType<C>(denoiser: Denoiser<C>, to: PredictionTarget): Denoiser<C> {
  const type = resolvePredictionType(to, 'to');
  return {
    schedule: denoiser.schedule,
    predictionType: type,
    evaluationsPerCall: denoiser.evaluationsPerCall ?? 1,
    predict: (xt, t, cond) => predictAs(denoiser, type, xt, t, { cond }),
  };
}
