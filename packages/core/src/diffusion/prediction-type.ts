/**
 * @file What a denoiser predicts, and exact conversions between the four parameterizations.
 *
 * With `x_t = alpha x0 + sigma eps` (any schedule):
 * - `epsilon`: eps (DDPM);
 * - `sample`: x0;
 * - `v_prediction`: `v = alpha eps - sigma x0` (Salimans & Ho 2022, Eq. in Sec. 4 / diffusers
 *   `get_velocity`); for VP schedules `alpha^2 + sigma^2 = 1`;
 * - `flow`: `u = eps - x0`, the rectified-flow velocity. We define `flow` as `eps - x0` for every
 *   schedule (not as `d x_t / dt`): it is what flow-matching networks regress, conversions need
 *   only alpha and sigma (discrete schedules have no time derivative), and for the flow-matching
 *   schedule (`alpha = 1 - t`, `sigma = t`) it equals `d x_t / dt` exactly. For a general schedule
 *   the probability-flow velocity is `d x_t/dt = alpha'(t) x0 + sigma'(t) eps`, which is not `flow`.
 *
 * Inverse maps (all exact; conditioning noted):
 * - eps:  `x0 = (x_t - sigma eps) / alpha`            (ill-conditioned as alpha -> 0)
 * - x0:   `eps = (x_t - alpha x0) / sigma`            (ill-conditioned as sigma -> 0)
 * - v:    `x0 = (alpha x_t - sigma v) / (alpha^2 + sigma^2)`, `eps = (sigma x_t + alpha v) / (alpha^2 + sigma^2)`
 * - flow: `x0 = (x_t - sigma u) / (alpha + sigma)`,    `eps = (x_t + alpha u) / (alpha + sigma)`
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { appendDims, type Coefficient } from './append-dims.js';

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample' | 'flow';
export const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample', 'flow'];

/** A prediction type or one of its short names: `x0` = sample, `eps` = epsilon, `v` = v_prediction. */
export type PredictionTarget = PredictionType | 'x0' | 'eps' | 'v';
const ALIASES: Readonly<Record<PredictionTarget, PredictionType>> = {
  epsilon: 'epsilon',
  v_prediction: 'v_prediction',
  sample: 'sample',
  flow: 'flow',
  x0: 'sample',
  eps: 'epsilon',
  v: 'v_prediction',
};

/** Resolves aliases; throws a {@link ConfigError} naming the allowed values. */
export function resolvePredictionType(target: string, field = 'predictionType'): PredictionType {
  const resolved = (ALIASES as Record<string, PredictionType | undefined>)[target];
  if (resolved === undefined) {
    throw new ConfigError(field, target, "'epsilon' (eps), 'v_prediction' (v), 'sample' (x0), 'flow'");
  }
  return resolved;
}

/**
 * `(x0, eps)` implied by a prediction at `x_t`.
 * @param pred the prediction `[B, ...]`
 * @param xt the noisy input `[B, ...]`
 * @param alpha,sigma numbers or `[B]` tensors
 */
export function toX0Eps(
  pred: tf.Tensor,
  type: PredictionType,
  xt: tf.Tensor,
  alpha: Coefficient,
  sigma: Coefficient,
): { x0: tf.Tensor; eps: tf.Tensor } {
  return tf.tidy(() => {
    const a = appendDims(alpha, xt.rank);
    const s = appendDims(sigma, xt.rank);
    switch (type) {
      case 'epsilon':
        return { x0: tf.div(tf.sub(xt, tf.mul(s, pred)), a), eps: tf.clone(pred) };
      case 'sample':
        return { x0: tf.clone(pred), eps: tf.div(tf.sub(xt, tf.mul(a, pred)), s) };
      case 'v_prediction': {
        const norm = tf.add(tf.square(a), tf.square(s));
        return {
          x0: tf.div(tf.sub(tf.mul(a, xt), tf.mul(s, pred)), norm),
          eps: tf.div(tf.add(tf.mul(s, xt), tf.mul(a, pred)), norm),
        };
      }
      case 'flow': {
        const norm = tf.add(a, s);
        return {
          x0: tf.div(tf.sub(xt, tf.mul(s, pred)), norm),
          eps: tf.div(tf.add(xt, tf.mul(a, pred)), norm),
        };
      }
      default:
        throw new ConfigError('predictionType', type, PREDICTION_TYPES.map((p) => `'${p}'`).join(', '));
    }
  });
}

/** The prediction of `type` given `(x0, eps)`: eps, x0, `alpha eps - sigma x0`, or `eps - x0`. */
export function fromX0Eps(x0: tf.Tensor, eps: tf.Tensor, type: PredictionType, alpha: Coefficient, sigma: Coefficient): tf.Tensor {
  return tf.tidy(() => {
    switch (type) {
      case 'epsilon':
        return tf.clone(eps);
      case 'sample':
        return tf.clone(x0);
      case 'v_prediction':
        return tf.sub(tf.mul(appendDims(alpha, x0.rank), eps), tf.mul(appendDims(sigma, x0.rank), x0));
      case 'flow':
        return tf.sub(eps, x0);
      default:
        throw new ConfigError('predictionType', type, PREDICTION_TYPES.map((p) => `'${p}'`).join(', '));
    }
  });
}

/**
 * Converts a prediction between parameterizations at the same `(x_t, alpha, sigma)`. Identity
 * conversions return a copy. Every conversion is affine in `pred`, so classifier-free guidance
 * commutes with it (guidance weights sum to 1).
 */
export function convertPrediction(
  pred: tf.Tensor,
  from: PredictionTarget,
  to: PredictionTarget,
  xt: tf.Tensor,
  alpha: Coefficient,
  sigma: Coefficient,
): tf.Tensor {
  const src = resolvePredictionType(from, 'from');
  const dst = resolvePredictionType(to, 'to');
  if (src === dst) return tf.clone(pred);
  return tf.tidy(() => {
    const { x0, eps } = toX0Eps(pred, src, xt, alpha, sigma);
    return fromX0Eps(x0, eps, dst, alpha, sigma);
  });
}
