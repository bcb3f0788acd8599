/**
 * @file The exact posterior mean of a Gaussian mixture under any schedule: a perfect teacher.
 *
 * With `x_t = alpha x0 + sigma eps` and `x0 ~ sum_k w_k N(mu_k, s^2 I)` in D dimensions,
 * `x_t | k ~ N(alpha mu_k, v I)` with `v = alpha^2 s^2 + sigma^2`, so
 * - responsibilities `r_k ∝ w_k N(x_t; alpha mu_k, v I)`, computed as a softmax of
 *   `log w_k + (alpha <x_t, mu_k> - alpha^2 |mu_k|^2 / 2) / v` (the `|x_t|^2` and normalizer terms
 *   are the same for every k and cancel; log-space keeps D in the thousands stable);
 * - `E[x0 | x_t, k] = mu_k + (alpha s^2 / v)(x_t - alpha mu_k)`, hence with `m = sum_k r_k mu_k`:
 *   `E[x0 | x_t] = (sigma^2 / v) m + (alpha s^2 / v) x_t` and
 *   `E[eps | x_t] = (sigma / v)(x_t - alpha m)` (well-conditioned at sigma -> 0 and alpha -> 0).
 * Optional conditioning `cond` `[B, K]` replaces the weights per sample (e.g. one-hot: a
 * class-conditional teacher), which makes classifier-free guidance testable analytically.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '../../errors.js';
import { appendDims, type Coefficient } from '../append-dims.js';
import type { Denoiser } from '../denoiser.js';
import type { NoiseSchedule } from '../noise-schedule.js';
import { fromX0Eps, resolvePredictionType, type PredictionTarget, type PredictionType } from '../prediction-type.js';
import type { GaussianMixture } from './gaussian-mixture.js';

export class MixtureDenoiser implements Denoiser<tf.Tensor> {
  readonly predictionType: PredictionType;
  readonly evaluationsPerCall = 1;
  /** `[K, D]` */
  private readonly mu: tf.Tensor2D;
  /** `[K]` */
  private readonly muNormSq: tf.Tensor1D;
  /** `[K]` */
  private readonly logW: tf.Tensor1D;
  private disposed = false;

  constructor(
    readonly mixture: GaussianMixture,
    readonly schedule: NoiseSchedule,
    predictionType: PredictionTarget = 'sample',
  ) {
    this.predictionType = resolvePredictionType(predictionType);
    this.mu = tf.tensor2d(mixture.means, [mixture.K, mixture.D], 'float32');
    this.muNormSq = tf.tidy(() => tf.sum(tf.square(this.mu), 1) as tf.Tensor1D);
    this.logW = tf.tensor1d(Float32Array.from(mixture.weights, Math.log), 'float32');
  }

  /**
   * `E[x0 | x_t]` and `E[eps | x_t]`.
   * @param xt `[B, ...shape]`
   * @param alpha,sigma numbers or `[B]` tensors
   * @param cond optional per-sample weights `[B, K]` (non-negative, at least one positive per row)
   */
  posterior(xt: tf.Tensor, alpha: Coefficient, sigma: Coefficient, cond?: tf.Tensor): { x0: tf.Tensor; eps: tf.Tensor } {
    if (this.disposed) throw new Error('MixtureDenoiser was disposed; create a new one.');
    const B = xt.shape[0] ?? 0;
    const D = this.mixture.D;
    if (xt.size !== B * D) throw new ShapeError('x_t', xt.shape, `[B, ${this.mixture.shape.join(', ')}] (D = ${D})`);
    if (cond !== undefined && (cond.rank !== 2 || cond.shape[0] !== B || cond.shape[1] !== this.mixture.K)) {
      throw new ShapeError('cond (mixture weights)', cond.shape, `[${B}, ${this.mixture.K}]`);
    }
    return tf.tidy(() => {
      const x = tf.reshape(xt, [B, D]);
      const a = appendDims(alpha, 2);
      const s = appendDims(sigma, 2);
      const s2 = this.mixture.std ** 2;
      const v = tf.add(tf.mul(tf.square(a), s2), tf.square(s)); // [B,1] or scalar
      const dots = tf.matMul(x, this.mu, false, true); // [B, K]
      const logW = cond === undefined ? this.logW : tf.maximum(tf.log(cond), -1e30);
      const logits = tf.add(logW, tf.div(tf.sub(tf.mul(a, dots), tf.mul(tf.mul(tf.square(a), 0.5), this.muNormSq)), v));
      const r = tf.softmax(logits);
      const m = tf.matMul(r, this.mu); // [B, D]
      const x0 = tf.add(tf.mul(tf.div(tf.square(s), v), m), tf.mul(tf.div(tf.mul(a, s2), v), x));
      const eps = tf.mul(tf.div(s, v), tf.sub(x, tf.mul(a, m)));
      return { x0: tf.reshape(x0, xt.shape), eps: tf.reshape(eps, xt.shape) };
    });
  }

  /** `E[x0 | x_t]` at model times `t`. */
  posteriorMean(xt: tf.Tensor, t: tf.Tensor | number, cond?: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.posteriorAt(xt, t, cond).x0);
  }

  private posteriorAt(xt: tf.Tensor, t: tf.Tensor | number, cond?: tf.Tensor): { x0: tf.Tensor; eps: tf.Tensor; alpha: Coefficient; sigma: Coefficient } {
    const alpha = typeof t === 'number' ? this.schedule.alpha(t) : this.schedule.alphaTensor(t);
    const sigma = typeof t === 'number' ? this.schedule.sigma(t) : this.schedule.sigmaTensor(t);
    return { ...this.posterior(xt, alpha, sigma, cond), alpha, sigma };
  }

  /** The exact prediction of `predictionType` at `(x_t, t)`. */
  predict(xt: tf.Tensor, t: tf.Tensor, cond?: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const p = this.posteriorAt(xt, t, cond);
      return fromX0Eps(p.x0, p.eps, this.predictionType, p.alpha, p.sigma);
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.mu.dispose();
    this.muNormSq.dispose();
    this.logW.dispose();
  }
}

/** The exact denoiser of `mixture` under `schedule`, reporting `predictionType` (default x0). Dispose it when done. */
export function mixtureDenoiser(mixture: GaussianMixture, schedule: NoiseSchedule, predictionType: PredictionTarget = 'sample'): MixtureDenoiser {
  return new MixtureDenoiser(mixture, schedule, predictionType);
}
