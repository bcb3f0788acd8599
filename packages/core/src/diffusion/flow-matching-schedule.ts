/**
 * @file Rectified-flow / flow-matching schedule: `x_t = (1 - t) x0 + t eps`, `t` in [0, 1]
 * (SD3, HunyuanVideo, Wan; t = 1 is pure noise).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import type { NoiseSchedule, NoiseScheduleConfig } from './noise-schedule.js';

/**
 * The timestep shift of SD3 (Esser et al. 2024, Sec. 5.3.2) used by HunyuanVideo and Wan:
 * `sigma' = shift * sigma / (1 + (shift - 1) * sigma)`. `shift > 1` spends more steps at high noise.
 * Maps [0, 1] onto itself monotonically; `shift = 1` is the identity.
 */
export function shiftSigma(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** Inverse of {@link shiftSigma}: `sigma = sigma' / (shift - (shift - 1) * sigma')`. */
export function unshiftSigma(shifted: number, shift: number): number {
  return shifted / (shift - (shift - 1) * shifted);
}

export interface FlowMatchingScheduleOptions {
  /**
   * Timestep shift applied to sampling grids and to {@link FlowMatchingSchedule.shiftTime}; it
   * does not change `alpha`/`sigma` at a given model time (model time is the shifted sigma, as
   * in diffusers' FlowMatchEulerDiscreteScheduler). @default 1
   */
  shift?: number;
}

/** `alpha(t) = 1 - t`, `sigma(t) = t`, model time `t` in [0, 1]. */
export class FlowMatchingSchedule implements NoiseSchedule {
  readonly type = 'flow-matching' as const;
  readonly time = { kind: 'continuous' } as const;
  readonly tMin = 0;
  readonly tMax = 1;
  readonly timestepScale = 1000;
  readonly shift: number;

  constructor(options: FlowMatchingScheduleOptions = {}) {
    const shift = options.shift ?? 1;
    if (!(shift > 0 && Number.isFinite(shift))) throw new ConfigError('shift', shift, 'a finite number > 0', 'use 1 (no shift), 3 (SD3) or 7 (HunyuanVideo)');
    this.shift = shift;
  }

  /** Applies this schedule's shift to an unshifted time (see {@link shiftSigma}). */
  shiftTime(u: number): number {
    return shiftSigma(u, this.shift);
  }

  alpha(t: number): number {
    checkUnit(t);
    return 1 - t;
  }

  sigma(t: number): number {
    checkUnit(t);
    return t;
  }

  alphaTensor(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.sub(1, tf.cast(t, 'float32')));
  }

  sigmaTensor(t: tf.Tensor): tf.Tensor {
    return tf.cast(t, 'float32');
  }

  toConfig(): NoiseScheduleConfig {
    return { type: 'flow-matching', shift: this.shift };
  }
}

export function checkUnit(t: number): void {
  if (!(t >= 0 && t <= 1)) throw new ConfigError('t', t, 'a model time in [0, 1]', 'continuous schedules take t in [0, 1], 1 = noise');
}

/** Factory for {@link FlowMatchingSchedule}. */
export function flowMatchingSchedule(options: FlowMatchingScheduleOptions = {}): FlowMatchingSchedule {
  return new FlowMatchingSchedule(options);
}
