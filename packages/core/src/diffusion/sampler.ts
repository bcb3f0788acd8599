/**
 * @file The sampler contract shared by every solver in `diffusion/`.
 *
 * A sampler integrates from `xT`, the latent at the grid's first timestep, down to the grid's end
 * and returns the sample. Pass standard-normal noise as `xT`: diffusers' `init_noise_sigma` is 1 in
 * the `x_t` space every solver here works in (`x_T = alpha_T x0 + sigma_T eps` has unit variance
 * for unit-variance data under VP; at flow-matching t = 1, `x_1 = eps` exactly).
 *
 * NFE counting: `nfe` is the number of `Denoiser.predict` calls per sample (the papers'
 * convention: "1 step + TTS = 2 NFE"; classifier-free guidance is NOT doubled there).
 * `networkEvaluations` = `nfe * denoiser.evaluationsPerCall`, which doubles under CFG.
 * For classifier-free guidance, wrap the teacher with `guidedDenoiser(teacher, { uncond, scale })`
 * and pass `cond` here.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { predictX0Eps, type Denoiser } from './denoiser.js';
import type { NoiseSchedule } from './noise-schedule.js';
import { toRng, type Rng, type RngSource } from './rng.js';
import type { SamplingGrid } from './timestep-spacing.js';

export interface SampleOptions<C = tf.Tensor> {
  /** Conditioning passed to every `predict` call. */
  cond?: C;
  /**
   * Randomness for stochastic steps (DDIM eta > 0, consistency re-noising); required by those.
   * An integer seeds a fresh stream for this call.
   */
  rng?: RngSource;
  /**
   * Keep the intermediate latents: `trajectory[i]` is the state at `times[i]`, from `xT` (a copy) to
   * the final sample (a copy), `n + 1` tensors (AccVideo's `{l_{t_n}, ..., l_{t_0}}`). The caller
   * disposes them. @default false
   */
  returnTrajectory?: boolean;
}

export interface SampleResult {
  /** The sample `[B, ...]`. */
  sample: tf.Tensor;
  /** States along the grid (see {@link SampleOptions.returnTrajectory}). */
  trajectory?: tf.Tensor[];
  /** Model times of the trajectory entries; the last is the grid end (-1: virtual clean end). */
  times: number[];
  /** Denoiser calls per sample. */
  nfe: number;
  /** Network forward passes (nfe times the denoiser's `evaluationsPerCall`, 2 under CFG). */
  networkEvaluations: number;
}

export interface Sampler {
  /** Namespaced name, e.g. 'diffusion:ddim'. */
  readonly name: string;
  /** The grid this sampler visits for `schedule`. */
  grid(schedule: NoiseSchedule): SamplingGrid;
  /** Denoiser calls this sampler makes for `schedule` (known before sampling). */
  nfe(schedule: NoiseSchedule): number;
  /** Runs the sampler; `xT` `[B, ...]` is the latent at the first grid time (standard normal noise). */
  sample<C>(denoiser: Denoiser<C>, xT: tf.Tensor, options?: SampleOptions<C>): SampleResult;
}

/**
 * Internal bookkeeping for a sampler run: counts denoiser calls, records the trajectory, and
 * keeps the current state alive across `tf.tidy` scopes.
 */
export class SamplerRun<C> {
  calls = 0;
  readonly trajectory: tf.Tensor[] | undefined;
  readonly times: number[] = [];

  constructor(
    readonly denoiser: Denoiser<C>,
    readonly options: SampleOptions<C>,
  ) {
    this.trajectory = options.returnTrajectory ? [] : undefined;
  }

  /** `(x0, eps)` from the denoiser at one time for the whole batch. */
  x0Eps(x: tf.Tensor, t: number): { x0: tf.Tensor; eps: tf.Tensor } {
    this.calls += 1;
    return predictX0Eps(this.denoiser, x, t, this.options.cond === undefined ? {} : { cond: this.options.cond });
  }

  /** Records a state (copied if a trajectory is kept). */
  record(x: tf.Tensor, t: number): void {
    this.times.push(t);
    if (this.trajectory) this.trajectory.push(tf.keep(tf.clone(x)));
  }

  rng(samplerName: string): Rng {
    if (this.options.rng === undefined) {
      throw new ConfigError('rng', undefined, 'a seeded Rng (e.g. seededRng(7))', `${samplerName} draws fresh noise: pass options.rng`);
    }
    return toRng(this.options.rng);
  }

  result(sample: tf.Tensor): SampleResult {
    const res: SampleResult = {
      sample,
      times: this.times,
      nfe: this.calls,
      networkEvaluations: this.calls * (this.denoiser.evaluationsPerCall ?? 1),
    };
    if (this.trajectory) res.trajectory = this.trajectory;
    return res;
  }
}

/**
 * Replaces `state` by `next()` computed in a tidy scope, disposing the old state (unless it is the
 * caller's input). Keeps memory flat across steps.
 */
export function advance(state: tf.Tensor, input: tf.Tensor, next: () => tf.Tensor): tf.Tensor {
  const out = tf.tidy(next);
  if (state !== input) state.dispose();
  return out;
}
