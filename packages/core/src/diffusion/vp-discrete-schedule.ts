/**
 * @file Discrete variance-preserving (DDPM) schedule with diffusers' beta schedules.
 *
 * Numerics (matching how diffusers builds `alphas_cumprod` in PyTorch): betas are computed in
 * float64 and rounded to float32 (torch stores them as float32), `alphas = fround(1 - beta)`, and
 * the cumulative product runs with a float64 accumulator over those float32 alphas, each output
 * rounded to float32 (torch's CPU `cumprod` accumulates in double). Values may differ from torch's
 * by one float32 ulp where torch's float32 `linspace` rounds differently.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import type { BetaSchedule, NoiseSchedule, NoiseScheduleConfig } from './noise-schedule.js';

export const BETA_SCHEDULES: readonly BetaSchedule[] = ['linear', 'scaled_linear', 'squaredcos_cap_v2'];

export interface VpDiscreteScheduleOptions {
  /** @default 'scaled_linear' */
  betaSchedule?: BetaSchedule;
  /** beta_1. @default 0.0001 for 'linear' (DDPM), 0.00085 for 'scaled_linear' (Stable Diffusion); unused by 'squaredcos_cap_v2' */
  betaStart?: number;
  /** beta_T. @default 0.02 for 'linear', 0.012 for 'scaled_linear'; unused by 'squaredcos_cap_v2' */
  betaEnd?: number;
  /** T. @default 1000 */
  numTrainTimesteps?: number;
}

/** `n` evenly spaced values from `a` to `b` inclusive, in float64 (`np.linspace`). */
function linspace(a: number, b: number, n: number): number[] {
  if (n === 1) return [a];
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? b : a + ((b - a) * i) / (n - 1)));
}

/**
 * The betas of a diffusers beta schedule, rounded to float32:
 * - `linear`: `linspace(betaStart, betaEnd, T)`;
 * - `scaled_linear`: `linspace(sqrt(betaStart), sqrt(betaEnd), T)^2` (latent diffusion);
 * - `squaredcos_cap_v2`: Nichol & Dhariwal 2021 Eq. 17 cosine schedule,
 *   `beta_i = min(1 - abar((i+1)/T) / abar(i/T), 0.999)`, `abar(u) = cos((u + 0.008) / 1.008 * pi/2)^2`
 *   (diffusers `betas_for_alpha_bar`, max_beta 0.999).
 */
export function diffusersBetas(schedule: BetaSchedule, betaStart: number, betaEnd: number, T: number): Float64Array {
  const f = Math.fround;
  let betas: number[];
  if (schedule === 'linear') betas = linspace(betaStart, betaEnd, T).map(f);
  else if (schedule === 'scaled_linear') betas = linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), T).map((b) => f(f(b) * f(b)));
  else if (schedule === 'squaredcos_cap_v2') {
    const alphaBar = (u: number) => Math.cos(((u + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
    betas = Array.from({ length: T }, (_, i) => f(Math.min(1 - alphaBar((i + 1) / T) / alphaBar(i / T), 0.999)));
  } else {
    throw new ConfigError('betaSchedule', schedule, BETA_SCHEDULES.map((s) => `'${s}'`).join(', '));
  }
  return Float64Array.from(betas);
}

/**
 * Discrete VP schedule: `alpha(t) = sqrt(abar_t)`, `sigma(t) = sqrt(1 - abar_t)`, `t` in `[0, T-1]`.
 * Fractional `t` interpolates `sigma/alpha = sqrt((1 - abar)/abar)` linearly (diffusers'
 * EulerDiscreteScheduler `np.interp`), then `alpha = 1/sqrt(1 + s^2)`, `sigma = s * alpha`.
 *
 * @example
 * const sd = vpDiscreteSchedule({ betaSchedule: 'scaled_linear' }); // Stable Diffusion / AnimateDiff
 * sd.alphasCumprod[0]; // 1 - 0.00085
 */
export class VpDiscreteSchedule implements NoiseSchedule {
  readonly type = 'vp-discrete' as const;
  readonly time: { readonly kind: 'discrete'; readonly numTrainTimesteps: number };
  readonly tMin = 0;
  readonly tMax: number;
  readonly timestepScale = 1;
  readonly betaSchedule: BetaSchedule;
  readonly betaStart: number;
  readonly betaEnd: number;
  /** beta_t, float32 values, `[T]`. */
  readonly betas: Float64Array;
  /** abar_t = prod_{s<=t} (1 - beta_s), float32 values, `[T]`. */
  readonly alphasCumprod: Float64Array;
  /** sigma/alpha = sqrt((1 - abar)/abar) per integer timestep (diffusers' Euler "sigmas"), float64. */
  readonly sigmaTildes: Float64Array;

  constructor(options: VpDiscreteScheduleOptions = {}) {
    const betaSchedule = options.betaSchedule ?? 'scaled_linear';
    if (!BETA_SCHEDULES.includes(betaSchedule)) {
      throw new ConfigError('betaSchedule', betaSchedule, BETA_SCHEDULES.map((s) => `'${s}'`).join(', '));
    }
    const T = options.numTrainTimesteps ?? 1000;
    if (!Number.isInteger(T) || T < 2) throw new ConfigError('numTrainTimesteps', T, 'an integer >= 2', 'use 1000');
    const betaStart = options.betaStart ?? (betaSchedule === 'linear' ? 0.0001 : 0.00085);
    const betaEnd = options.betaEnd ?? (betaSchedule === 'linear' ? 0.02 : 0.012);
    if (!(betaStart > 0 && betaEnd < 1 && betaStart <= betaEnd)) {
      throw new ConfigError('betaStart/betaEnd', [betaStart, betaEnd], '0 < betaStart <= betaEnd < 1');
    }
    this.betaSchedule = betaSchedule;
    this.betaStart = betaStart;
    this.betaEnd = betaEnd;
    this.time = { kind: 'discrete', numTrainTimesteps: T };
    this.tMax = T - 1;
    this.betas = diffusersBetas(betaSchedule, betaStart, betaEnd, T);
    this.alphasCumprod = new Float64Array(T);
    this.sigmaTildes = new Float64Array(T);
    let acc = 1;
    for (let i = 0; i < T; i++) {
      acc *= Math.fround(1 - (this.betas[i] as number));
      const abar = Math.fround(acc);
      this.alphasCumprod[i] = abar;
      this.sigmaTildes[i] = Math.sqrt((1 - abar) / abar);
    }
  }

  /** sigma/alpha at (possibly fractional) `t`. */
  sigmaTilde(t: number): number {
    if (!(t >= 0 && t <= this.tMax)) {
      throw new ConfigError('t', t, `a timestep in [0, ${this.tMax}]`, 'discrete schedules take the timestep index');
    }
    const i0 = Math.floor(t);
    const frac = t - i0;
    const s0 = this.sigmaTildes[i0] as number;
    return frac === 0 ? s0 : s0 + frac * ((this.sigmaTildes[i0 + 1] as number) - s0);
  }

  alpha(t: number): number {
    if (Number.isInteger(t) && t >= 0 && t <= this.tMax) return Math.sqrt(this.alphasCumprod[t] as number);
    return 1 / Math.sqrt(1 + this.sigmaTilde(t) ** 2);
  }

  sigma(t: number): number {
    if (Number.isInteger(t) && t >= 0 && t <= this.tMax) return Math.sqrt(1 - (this.alphasCumprod[t] as number));
    const s = this.sigmaTilde(t);
    return s / Math.sqrt(1 + s * s);
  }

  /** Interpolated sigma/alpha for a `[B]` tensor of timesteps (clipped to `[0, T-1]`). */
  private sigmaTildeTensor(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const table = tf.tensor1d(Float32Array.from(this.sigmaTildes));
      const tc = tf.clipByValue(tf.cast(t, 'float32'), 0, this.tMax);
      const f0 = tf.floor(tc);
      const i0 = tf.cast(f0, 'int32');
      const i1 = tf.minimum(tf.add(i0, tf.scalar(1, 'int32')), tf.scalar(this.tMax, 'int32'));
      const frac = tf.sub(tc, f0);
      const s0 = tf.gather(table, i0);
      const s1 = tf.gather(table, i1);
      return tf.add(s0, tf.mul(frac, tf.sub(s1, s0)));
    });
  }

  alphaTensor(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.rsqrt(tf.add(1, tf.square(this.sigmaTildeTensor(t)))));
  }

  sigmaTensor(t: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const s = this.sigmaTildeTensor(t);
      return tf.mul(s, tf.rsqrt(tf.add(1, tf.square(s))));
    });
  }

  toConfig(): NoiseScheduleConfig {
    return {
      type: 'vp-discrete',
      betaSchedule: this.betaSchedule,
      betaStart: this.betaStart,
      betaEnd: this.betaEnd,
      numTrainTimesteps: this.time.numTrainTimesteps,
    };
  }
}

/** Factory for {@link VpDiscreteSchedule}. */
export function vpDiscreteSchedule(options: VpDiscreteScheduleOptions = {}): VpDiscreteSchedule {
  return new VpDiscreteSchedule(options);
}
