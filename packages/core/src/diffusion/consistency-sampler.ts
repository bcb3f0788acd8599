/**
 * @file Consistency multistep sampling (Song et al. 2023, Algorithm 1; diffusers LCMScheduler.step):
 * at each grid time `t_i`, `denoised = cSkip(t_i) x + cOut(t_i) x0_hat(x, t_i)`; then, unless it is
 * the last step, re-noise to the next time with fresh noise: `x = alpha_{i+1} denoised + sigma_{i+1} z`.
 * The last `denoised` is the sample. NFE = number of steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { lcmBoundaryCondition, type BoundaryCondition } from './consistency-boundary.js';
import type { Denoiser } from './denoiser.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { randomNormal } from './rng.js';
import { advance, SamplerRun, type SampleOptions, type SampleResult, type Sampler } from './sampler.js';
import { lcmTimesteps, samplingGrid, type SamplingGrid, type SamplingGridOptions } from './timestep-spacing.js';

export interface ConsistencySamplerOptions extends SamplingGridOptions {
  /** @default LCM's ({@link lcmBoundaryCondition}) with the schedule's timestep scale */
  boundary?: BoundaryCondition;
  /** LCM's `original_inference_steps` for discrete grids (used when no `spacing`/`timesteps` is given). @default 50 */
  originalSteps?: number;
}

/** Discrete default: LCMScheduler's timesteps (999, 759, 499, 259 for 4 steps); continuous: 'uniform'. */
export function consistencyGrid(schedule: NoiseSchedule, options: ConsistencySamplerOptions): SamplingGrid {
  if (schedule.time.kind === 'discrete' && options.timesteps === undefined && options.spacing === undefined) {
    const timesteps = lcmTimesteps({
      numInferenceSteps: options.steps,
      originalSteps: options.originalSteps ?? 50,
      numTrainTimesteps: schedule.time.numTrainTimesteps,
    });
    return samplingGrid(schedule, { ...options, timesteps });
  }
  return samplingGrid(schedule, options);
}

export function consistencySampler(options: ConsistencySamplerOptions): Sampler {
  const grid = (schedule: NoiseSchedule) => consistencyGrid(schedule, options);
  return {
    name: 'diffusion:consistency',
    grid,
    nfe: (schedule) => grid(schedule).timesteps.length,
    sample<C>(denoiser: Denoiser<C>, xT: tf.Tensor, sampleOptions: SampleOptions<C> = {}): SampleResult {
      const g = grid(denoiser.schedule);
      const boundary = options.boundary ?? lcmBoundaryCondition({ timestepScale: denoiser.schedule.timestepScale });
      const run = new SamplerRun(denoiser, sampleOptions);
      const n = g.timesteps.length;
      const rng = n > 1 ? run.rng('consistency sampling') : undefined;
      let x = xT;
      g.timesteps.forEach((t, i) => {
        run.record(x, t);
        x = advance(x, xT, () => {
          const { x0 } = run.x0Eps(x, t);
          const denoised = tf.add(tf.mul(x, boundary.cSkip(t)), tf.mul(x0, boundary.cOut(t)));
          if (i === n - 1 || !rng) return denoised;
          const z = randomNormal(x.shape, rng);
          return tf.add(tf.mul(denoised, g.alphas[i + 1] as number), tf.mul(z, g.sigmas[i + 1] as number));
        });
      });
      run.record(x, g.tEnd);
      return run.result(x === xT ? tf.clone(x) : x);
    },
  };
}
