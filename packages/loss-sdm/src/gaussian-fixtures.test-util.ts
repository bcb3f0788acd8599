/**
 * @file Test helpers: single-Gaussian "score models" whose posterior is exact (core's
 * MixtureDenoiser with one mode): `E[x0 | x_t] = (sigma^2 m + alpha s^2 x_t) / v` and
 * `E[eps | x_t] = sigma (x_t - alpha m) / v`, `v = alpha^2 s^2 + sigma^2`.
 */
import { GaussianMixture, mixtureDenoiser, type MixtureDenoiser, type NoiseSchedule, type PredictionTarget } from '@fewstep/core';

/** A denoiser for `x0 ~ N(mean, std^2 I)` of `shape` (one mode). */
export function gaussianDenoiser(mean: number[], shape: number[], std: number, schedule: NoiseSchedule, type: PredictionTarget = 'sample'): MixtureDenoiser {
  return mixtureDenoiser(new GaussianMixture({ means: Float32Array.from(mean), weights: [1], std, shape }), schedule, type);
}
