/**
 * @file The forward process q(x_t | x0) = N(alpha_t x0, sigma_t^2 I) and the signal-to-noise ratio.
 */
import * as tf from '@tensorflow/tfjs-core';
import { appendDims } from './append-dims.js';
import type { NoiseSchedule } from './noise-schedule.js';

/** Coefficients of q(x_t | x0) at `t`: a number for a scalar time, `[B]` tensors for per-sample times. */
export function alphaSigma(schedule: NoiseSchedule, t: number): { alpha: number; sigma: number };
export function alphaSigma(schedule: NoiseSchedule, t: tf.Tensor): { alpha: tf.Tensor; sigma: tf.Tensor };
export function alphaSigma(schedule: NoiseSchedule, t: number | tf.Tensor) {
  if (typeof t === 'number') return { alpha: schedule.alpha(t), sigma: schedule.sigma(t) };
  return { alpha: schedule.alphaTensor(t), sigma: schedule.sigmaTensor(t) };
}

/**
 * Samples q(x_t | x0): `x_t = alpha_t x0 + sigma_t eps`.
 * @param x0 clean samples `[B, ...]` (e.g. `[B, F, H, W, C]`)
 * @param eps standard-normal noise, same shape
 * @param t one model time for the batch, or `[B]` per-sample times
 */
export function forwardDiffuse(schedule: NoiseSchedule, x0: tf.Tensor, eps: tf.Tensor, t: number | tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (typeof t === 'number') return tf.add(tf.mul(x0, schedule.alpha(t)), tf.mul(eps, schedule.sigma(t)));
    const alpha = appendDims(schedule.alphaTensor(t), x0.rank);
    const sigma = appendDims(schedule.sigmaTensor(t), x0.rank);
    return tf.add(tf.mul(x0, alpha), tf.mul(eps, sigma));
  });
}

/** SNR(t) = alpha_t^2 / sigma_t^2 (Kingma et al. 2021); `Infinity` where sigma = 0. */
export function snr(schedule: NoiseSchedule, t: number): number {
  return schedule.alpha(t) ** 2 / schedule.sigma(t) ** 2;
}

/** log SNR(t) = 2 log(alpha_t / sigma_t) = 2 lambda_t (lambda is DPM-Solver's half log-SNR). */
export function logSnr(schedule: NoiseSchedule, t: number): number {
  return 2 * (Math.log(schedule.alpha(t)) - Math.log(schedule.sigma(t)));
}

/** Batched SNR: `t` `[B]` to `[B]`. */
export function snrTensor(schedule: NoiseSchedule, t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.square(tf.div(schedule.alphaTensor(t), schedule.sigmaTensor(t))));
}
