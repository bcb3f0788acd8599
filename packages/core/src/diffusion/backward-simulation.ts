/**
 * @file Backward simulation for k-step generators (DMD2, Yin et al. 2024, Sec. 4.5; AVDM2; ADM):
 * to train a k-step generator at its i-th step, run the generator's own sampler from pure noise
 * (no gradient) down to step i, so training sees the states inference sees.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { predictX0Eps, type Denoiser } from './denoiser.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { randomNormal, type Rng } from './rng.js';
import { samplingGrid, type TimestepSpacing } from './timestep-spacing.js';

/**
 * The k timesteps a k-step generator uses, descending. Discrete: 'trailing' spacing,
 * `round(arange(T, 0, -T/k)) - 1` (999, 749, 499, 249 for k = 4, DMD2's `denoising_step_list`);
 * continuous: 'uniform' `1 - i/k` with the flow schedule's shift (1, 0.75, 0.5, 0.25).
 */
export function kStepTimesteps(schedule: NoiseSchedule, k: number, spacing?: TimestepSpacing): number[] {
  const defaultSpacing = schedule.time.kind === 'discrete' ? 'trailing' : 'uniform';
  return [...samplingGrid(schedule, { steps: k, spacing: spacing ?? defaultSpacing }).timesteps];
}

/** The step to train at: uniform over `{0, ..., k-1}`. */
export function sampleBackwardSimulationStep(k: number, rng: Rng): number {
  if (!Number.isInteger(k) || k < 1) throw new ConfigError('k', k, 'an integer >= 1');
  return Math.floor(rng() * k);
}

export interface BackwardSimulationOptions<C> {
  /** The generator's descending timesteps (e.g. {@link kStepTimesteps}). */
  timesteps: readonly number[];
  /** Run this many generator steps: the result is the state at `timesteps[steps]`. */
  steps: number;
  rng: Rng;
  cond?: C;
}

/**
 * Runs a generator from `xT` (noise at `timesteps[0]`) for `steps` steps: `x0 = G(x, t_i)`, then
 * `x = alpha(t_{i+1}) x0 + sigma(t_{i+1}) z` with fresh noise (DMD2's multi-step generator).
 * Call it outside `tf.variableGrads`: no gradient flows through the simulated states.
 * @returns `{ xt, t }`: the state at `timesteps[steps]` `[B, ...]` and its model time
 */
export function backwardSimulate<C>(generator: Denoiser<C>, xT: tf.Tensor, options: BackwardSimulationOptions<C>): { xt: tf.Tensor; t: number } {
  const { timesteps, steps, rng } = options;
  if (!Number.isInteger(steps) || steps < 0 || steps >= timesteps.length) {
    throw new ConfigError('steps', steps, `an integer in [0, ${timesteps.length - 1}]`);
  }
  const schedule = generator.schedule;
  let x = tf.clone(xT);
  for (let i = 0; i < steps; i++) {
    const t = timesteps[i] as number;
    const tNext = timesteps[i + 1] as number;
    const next = tf.tidy(() => {
      const { x0 } = predictX0Eps(generator, x, t, options.cond === undefined ? {} : { cond: options.cond });
      return tf.add(tf.mul(x0, schedule.alpha(tNext)), tf.mul(randomNormal(x.shape, rng), schedule.sigma(tNext)));
    });
    x.dispose();
    x = next;
  }
  return { xt: x, t: timesteps[steps] as number };
}
