/**
 * @file The common contract of every noise schedule: `x_t = alpha(t) * x0 + sigma(t) * eps`.
 *
 * Time convention (the "model time" `t` a {@link Denoiser} receives):
 * - `discrete` schedules (DDPM-style VP, T = 1000): `t` is the training timestep index in
 *   `[0, T - 1]`; `t = 0` is the least noisy. Fractional `t` is allowed (diffusers'
 *   EulerDiscreteScheduler uses fractional timesteps with `linspace` spacing) and is interpolated
 *   linearly in `sigma / alpha`, as diffusers does with `np.interp` over its sigmas.
 * - `continuous` schedules (flow matching, continuous VP): `t` in `[0, 1]`, `t = 1` is noise.
 *   Networks that embed `1000 * t` (SD3, HunyuanVideo, Wan) multiply by {@link NoiseSchedule.timestepScale}
 *   in their adapter; the diffusion math never does.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** How model time is measured; see the file comment. */
export type TimeDomain =
  | { readonly kind: 'discrete'; readonly numTrainTimesteps: number }
  | { readonly kind: 'continuous' };

/** Serializable description of a schedule; {@link noiseScheduleFromConfig} rebuilds it. */
export type NoiseScheduleConfig =
  | {
      readonly type: 'vp-discrete';
      readonly betaSchedule: BetaSchedule;
      readonly betaStart: number;
      readonly betaEnd: number;
      readonly numTrainTimesteps: number;
    }
  | { readonly type: 'flow-matching'; readonly shift: number }
  | { readonly type: 'vp-continuous'; readonly betaMin: number; readonly betaMax: number };

/** The beta schedules of diffusers' DDPM-family schedulers (`beta_schedule`). */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

/** `x_t = alpha(t) x0 + sigma(t) eps`, queried at model time `t` (see the file comment). */
export interface NoiseSchedule {
  readonly type: NoiseScheduleConfig['type'];
  readonly time: TimeDomain;
  /** Smallest model time (0 for every built-in schedule). */
  readonly tMin: number;
  /** Largest model time: `T - 1` (discrete) or 1 (continuous). */
  readonly tMax: number;
  /**
   * Model time to "training timestep" units: 1 for discrete schedules, 1000 for continuous ones.
   * Used by the LCM boundary condition (`c_skip`, `c_out` take the timestep in these units).
   */
  readonly timestepScale: number;
  /** Signal coefficient alpha(t), in float64. */
  alpha(t: number): number;
  /** Noise coefficient sigma(t), in float64. */
  sigma(t: number): number;
  /** Batched alpha: `t` `[B]` (float32 model times) to `[B]`. */
  alphaTensor(t: tf.Tensor): tf.Tensor;
  /** Batched sigma: `t` `[B]` to `[B]`. */
  sigmaTensor(t: tf.Tensor): tf.Tensor;
  toConfig(): NoiseScheduleConfig;
}
