/**
 * @file DDIM (Song et al. 2021, Eq. 12), for any schedule.
 *
 * `x_prev = alpha_prev x0 + sqrt(sigma_prev^2 - std^2) eps + std z`, with
 * `std = eta * (sigma_prev / sigma_t) * sqrt(sigma_t^2 - (alpha_t / alpha_prev)^2 sigma_prev^2)`
 * (Eq. 16; for VP this is diffusers' `eta * sqrt((1 - abar_prev)/(1 - abar_t) * (1 - abar_t/abar_prev))`).
 * eta = 0 is the deterministic probability-flow solver; eta = 1 is DDPM's posterior variance.
 *
 * The previous time is the next entry of the grid. diffusers' DDIMScheduler instead uses
 * `t - T // n`, which is the same for 'leading' spacing (and 'trailing' when n divides T) but not
 * for 'linspace'.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Denoiser } from './denoiser.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { randomNormal } from './rng.js';
import { advance, SamplerRun, type SampleOptions, type SampleResult, type Sampler } from './sampler.js';
import { samplingGrid, type SamplingGrid, type SamplingGridOptions } from './timestep-spacing.js';
import { ConfigError } from '../errors.js';

export interface DdimSamplerOptions extends SamplingGridOptions {
  /** Stochasticity eta in [0, 1] (Eq. 16). @default 0 */
  eta?: number;
}

/** DDIM step coefficients from grid index `i` to `i + 1`: `x' = cX0 x0 + cEps eps + std z`. */
export function ddimCoefficients(grid: SamplingGrid, i: number, eta: number): { cX0: number; cEps: number; std: number } {
  const a = grid.alphas[i] as number;
  const s = grid.sigmas[i] as number;
  const aN = grid.alphas[i + 1] as number;
  const sN = grid.sigmas[i + 1] as number;
  let std = 0;
  if (eta > 0 && s > 0 && aN > 0) std = eta * (sN / s) * Math.sqrt(Math.max(0, s * s - ((a / aN) * sN) ** 2));
  return { cX0: aN, cEps: Math.sqrt(Math.max(0, sN * sN - std * std)), std };
}

/**
 * @example
 * const ddim = ddimSampler({ steps: 50, spacing: 'leading', stepsOffset: 1 }); // SD 1.5 config
 * const { sample, nfe } = ddim.sample(teacher, randomNormal([4, 8, 8, 8, 3], seededRng(1)));
 */
export function ddimSampler(options: DdimSamplerOptions): Sampler {
  const eta = options.eta ?? 0;
  if (!(eta >= 0 && eta <= 1)) throw new ConfigError('eta', eta, 'a number in [0, 1]', 'use 0 for deterministic DDIM');
  const grid = (schedule: NoiseSchedule) => samplingGrid(schedule, options);
  return {
    name: 'diffusion:ddim',
    grid,
    nfe: (schedule) => grid(schedule).timesteps.length,
    sample<C>(denoiser: Denoiser<C>, xT: tf.Tensor, sampleOptions: SampleOptions<C> = {}): SampleResult {
      const g = grid(denoiser.schedule);
      const run = new SamplerRun(denoiser, sampleOptions);
      const rng = eta > 0 ? run.rng('DDIM with eta > 0') : undefined;
      let x = xT;
      g.timesteps.forEach((t, i) => {
        run.record(x, t);
        const { cX0, cEps, std } = ddimCoefficients(g, i, eta);
        x = advance(x, xT, () => {
          const { x0, eps } = run.x0Eps(x, t);
          const det = tf.add(tf.mul(x0, cX0), tf.mul(eps, cEps));
          return std > 0 && rng ? tf.add(det, randomNormal(x.shape, rng, std)) : det;
        });
      });
      run.record(x, g.tEnd);
      return run.result(x === xT ? tf.clone(x) : x);
    },
  };
}
