/**
 * @file OSV's Time-Travel Sampler (Mao et al. 2024, "OSV", Eq. 11) for consistency students.
 *
 * With a k-step grid `t^k` and a (k+1)-step grid `t^{k+1}` (both ascending in the paper,
 * `t_0 = 0`, interleaved: `t^{k+1}_i < t^k_i` and `t^{k+1}_i > t^k_{i-1}`), step i (from i = k down
 * to 1) takes the state `x` at `t^k_i` and computes, with `f(x, t) = cSkip(t) x + cOut(t) F(x, t)`:
 *   `y = cSkip(t^{k+1}_i) x + cOut(t^{k+1}_i) F(x, t^{k+1}_i)`   (solve at the lower time),
 *   `x_hat = cSkip(t^k_i) y + cOut(t^k_i) F(y, t^k_i)`           (travel back to t^k_i, solve again).
 * Between steps we re-noise `x_hat` to `t^k_{i-1}` with fresh noise (consistency multistep
 * sampling, as in the paper's k-step sampler); the last `x_hat` is the sample. NFE = 2k.
 * `F` is the denoiser's x0 prediction (LCM's convention: cOut scales the predicted original sample).
 *
 * This is a heuristic for trained few-step students: Eq. 11 feeds the clean estimate `y` as if it
 * were noisy at `t^k_i`. With an exact teacher (the posterior mean) it is not a convergent solver.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { lcmBoundaryCondition, type BoundaryCondition } from './consistency-boundary.js';
import type { Denoiser } from './denoiser.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { randomNormal } from './rng.js';
import { advance, SamplerRun, type SampleOptions, type SampleResult, type Sampler } from './sampler.js';
import { samplingGrid, type SamplingGrid, type SamplingGridOptions } from './timestep-spacing.js';

export interface TimeTravelSamplerOptions extends Omit<SamplingGridOptions, 'timesteps'> {
  /** k: the number of consistency steps. */
  steps: number;
  /** Explicit descending grids: `coarse` (k times) and `fine` (k + 1 times, its first is dropped). */
  timesteps?: { coarse: readonly number[]; fine: readonly number[] };
  /** @default LCM's boundary condition with the schedule's timestep scale */
  boundary?: BoundaryCondition;
}

/** The k-step grid and the k "travel" times (the (k+1)-step grid without its top time), validated. */
export function timeTravelGrids(
  schedule: NoiseSchedule,
  options: TimeTravelSamplerOptions,
): { coarse: SamplingGrid; travel: number[] } {
  const k = options.steps;
  const base: SamplingGridOptions =
    schedule.time.kind === 'discrete' ? { ...options, timesteps: undefined, spacing: options.spacing ?? 'trailing' } : { ...options, timesteps: undefined };
  const coarse = samplingGrid(schedule, options.timesteps ? { ...base, timesteps: options.timesteps.coarse } : { ...base, steps: k });
  const fine = options.timesteps ? [...options.timesteps.fine] : [...samplingGrid(schedule, { ...base, steps: k + 1 }).timesteps];
  if (coarse.timesteps.length !== k || fine.length !== k + 1) {
    throw new ConfigError('timesteps', options.timesteps, `coarse with k = ${k} times and fine with k + 1 = ${k + 1} times`);
  }
  const travel = fine.slice(1);
  const clean = schedule.time.kind === 'discrete' ? -Infinity : coarse.tEnd;
  travel.forEach((b, j) => {
    const a = coarse.timesteps[j] as number;
    const below = j + 1 < k ? (coarse.timesteps[j + 1] as number) : clean;
    if (!(b < a && b > below)) {
      throw new ConfigError(
        'timesteps',
        { coarse: coarse.timesteps, fine },
        'interleaved grids: t^{k+1}_i < t^k_i and t^{k+1}_i > t^k_{i-1} (OSV Eq. 11)',
        'use the same spacing for k and k + 1 steps (trailing / uniform interleave)',
      );
    }
  });
  return { coarse, travel };
}

export function timeTravelSampler(options: TimeTravelSamplerOptions): Sampler {
  return {
    name: 'diffusion:time-travel',
    grid: (schedule) => timeTravelGrids(schedule, options).coarse,
    nfe: (schedule) => 2 * timeTravelGrids(schedule, options).coarse.timesteps.length,
    sample<C>(denoiser: Denoiser<C>, xT: tf.Tensor, sampleOptions: SampleOptions<C> = {}): SampleResult {
      const { coarse, travel } = timeTravelGrids(denoiser.schedule, options);
      const boundary = options.boundary ?? lcmBoundaryCondition({ timestepScale: denoiser.schedule.timestepScale });
      const run = new SamplerRun(denoiser, sampleOptions);
      const k = coarse.timesteps.length;
      const rng = k > 1 ? run.rng('time-travel sampling') : undefined;
      const f = (x: tf.Tensor, t: number) =>
        tf.add(tf.mul(x, boundary.cSkip(t)), tf.mul(run.x0Eps(x, t).x0, boundary.cOut(t)));
      let x = xT;
      coarse.timesteps.forEach((a, j) => {
        run.record(x, a);
        x = advance(x, xT, () => {
          const y = f(x, travel[j] as number);
          const xHat = f(y, a);
          if (j === k - 1 || !rng) return xHat;
          const z = randomNormal(x.shape, rng);
          return tf.add(tf.mul(xHat, coarse.alphas[j + 1] as number), tf.mul(z, coarse.sigmas[j + 1] as number));
        });
      });
      run.record(x, coarse.tEnd);
      return run.result(x === xT ? tf.clone(x) : x);
    },
  };
}
