/**
 * @file One deterministic probability-flow ODE step (DDIM with eta = 0, Song et al. 2021 Eq. 12),
 * written in x0/eps form so that it is exact for any schedule and prediction type.
 */
import * as tf from '@tensorflow/tfjs-core';
import { alphaSigma, predictX0Eps, type Denoiser, type DenoiseOptions } from '@fewstep/core';

/** `[B]` coefficients broadcast against `[B, ...]`; a number stays a number. */
function perSample(c: number | tf.Tensor, rank: number): number | tf.Tensor {
  return typeof c === 'number' ? c : tf.reshape(c, [-1, ...new Array<number>(rank - 1).fill(1)]);
}

/**
 * `x_{t'} = alpha_{t'} x0 + sigma_{t'} eps`, with `(x0, eps)` the denoiser's (guided) prediction
 * at `(x_t, t)`. Differentiable in `xt` and in the denoiser's variables.
 * @param xt `[B, ...]` noisy samples at model time `t`
 * @param t one model time or `[B]` model times
 * @param tNext the target time(s) t' (same kind as `t`), usually t' < t
 * @returns `[B, ...]` x_{t'}
 */
export function pfOdeStep<C>(
  denoiser: Denoiser<C>,
  xt: tf.Tensor,
  t: number | tf.Tensor,
  tNext: number | tf.Tensor,
  options: DenoiseOptions<C> = {},
): tf.Tensor {
  return tf.tidy(() => {
    const { x0, eps } = predictX0Eps(denoiser, xt, t, options);
    const { alpha, sigma } = typeof tNext === 'number' ? alphaSigma(denoiser.schedule, tNext) : alphaSigma(denoiser.schedule, tNext);
    return tf.add(tf.mul(x0, perSample(alpha, xt.rank)), tf.mul(eps, perSample(sigma, xt.rank)));
  });
}
