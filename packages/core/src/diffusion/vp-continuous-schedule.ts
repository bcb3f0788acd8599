/**
 * @file Continuous VP schedule (Song et al. 2021, VP SDE): linear `beta(t) = beta_min + t (beta_max - beta_min)`,
 * `alpha_t = exp(-1/2 int_0^t beta(s) ds)`, `sigma_t = sqrt(1 - alpha_t^2)`, `t` in [0, 1].
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { checkUnit } from './flow-matching-schedule.js';
import type { NoiseSchedule, NoiseScheduleConfig } from './noise-schedule.js';

export interface VpContinuousScheduleOptions {
  /** @default 0.1 */
  betaMin?: number;
  /** @default 20 */
  betaMax?: number;
}

export class VpContinuousSchedule implements NoiseSchedule {
  readonly type = 'vp-continuous' as const;
  readonly time = { kind: 'continuous' } as const;
  readonly tMin = 0;
  readonly tMax = 1;
  readonly timestepScale = 1000;
  readonly betaMin: number;
  readonly betaMax: number;

  constructor(options: VpContinuousScheduleOptions = {}) {
    this.betaMin = options.betaMin ?? 0.1;
    this.betaMax = options.betaMax ?? 20;
    if (!(this.betaMin >= 0 && this.betaMax > this.betaMin)) {
      throw new ConfigError('betaMin/betaMax', [this.betaMin, this.betaMax], '0 <= betaMin < betaMax', 'use 0.1 and 20');
    }
  }

  /** `int_0^t beta(s) ds = beta_min t + (beta_max - beta_min) t^2 / 2`. */
  integratedBeta(t: number): number {
    return this.betaMin * t + 0.5 * (this.betaMax - this.betaMin) * t * t;
  }

  alpha(t: number): number {
    checkUnit(t);
    return Math.exp(-0.5 * this.integratedBeta(t));
  }

  /** `sqrt(1 - exp(-int beta))` via `expm1`, accurate near t = 0. */
  sigma(t: number): number {
    checkUnit(t);
    return Math.sqrt(-Math.expm1(-this.integratedBeta(t)));
  }

  private integratedBetaTensor(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const tf32 = tf.cast(t, 'float32');
      return tf.add(tf.mul(this.betaMin, tf32), tf.mul(0.5 * (this.betaMax - this.betaMin), tf.square(tf32)));
    });
  }

  alphaTensor(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.exp(tf.mul(-0.5, this.integratedBetaTensor(t))));
  }

  sigmaTensor(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.sqrt(tf.neg(tf.expm1(tf.neg(this.integratedBetaTensor(t))))));
  }

  toConfig(): NoiseScheduleConfig {
    return { type: 'vp-continuous', betaMin: this.betaMin, betaMax: this.betaMax };
  }
}

/** Factory for {@link VpContinuousSchedule}. */
export function vpContinuousSchedule(options: VpContinuousScheduleOptions = {}): VpContinuousSchedule {
  return new VpContinuousSchedule(options);
}
