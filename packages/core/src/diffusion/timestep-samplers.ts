/**
 * @file Training-time timestep distributions. Every sampler draws from an explicit {@link Rng}
 * so that runs replay exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';
import { normalValue, toRng, type Rng, type RngSource } from './rng.js';

/**
 * Draws `n` model times from an explicit random source: an {@link Rng} (its stream advances) or an
 * integer seed (a fresh stream for this call, so the same seed gives the same draws).
 */
export interface TimestepSampler {
  /** e.g. 'uniform[0, 999]', 'cubic', 'logit-normal(0, 1)'. */
  readonly name: string;
  sample(n: number, rng: RngSource): number[];
}

/** Wraps a sampler body written against an {@link Rng}. */
function drawing(f: (n: number, rng: Rng) => number[]): (n: number, rng: RngSource) => number[] {
  return (n, rng) => f(n, toRng(rng));
}

/** Draws `n` model times as a `[n]` float32 tensor. */
export function sampleTimestepTensor(sampler: TimestepSampler, n: number, rng: RngSource): tf.Tensor1D {
  return tf.tensor1d(sampler.sample(n, rng), 'float32');
}

export interface RangeOptions {
  min: number;
  max: number;
  /** Integer timesteps (uniform over `{min, ..., max}`) for discrete schedules. @default false */
  discrete?: boolean;
}

function checkRange(field: string, min: number, max: number, discrete: boolean): void {
  if (!(Number.isFinite(min) && Number.isFinite(max) && min <= max)) {
    throw new ConfigError(field, { min, max }, '{ min, max } with finite min <= max');
  }
  if (discrete && !(Number.isInteger(min) && Number.isInteger(max))) {
    throw new ConfigError(field, { min, max }, 'integer bounds for a discrete sampler');
  }
}

/**
 * Uniform on `[min, max)` (continuous) or on the integers `{min, ..., max}` (discrete), e.g.
 * AVDM2's `t ~ U[0, 0.5 T]` for the video discriminator, `U[0.2 T, 0.98 T]` for frame SDM.
 */
export function uniformTimesteps(options: RangeOptions): TimestepSampler {
  const { min, max, discrete = false } = options;
  checkRange('uniformTimesteps', min, max, discrete);
  return {
    name: `uniform[${min}, ${max}]${discrete ? ' (integers)' : ''}`,
    sample: drawing((n, rng) =>
      Array.from({ length: n }, () => (discrete ? min + Math.floor(rng() * (max - min + 1)) : min + (max - min) * rng())),
    ),
  };
}

/**
 * DMDX's cubic schedule for ADP (Lu et al. 2025, Sec. 4.2): `t = (1 - u^3) tMax`, u ~ U[0, 1),
 * which favours high noise (density increases towards tMax). `discrete` floors to integers and
 * caps at `tMax`.
 */
export function cubicTimesteps(options: { tMax: number; discrete?: boolean }): TimestepSampler {
  const { tMax, discrete = false } = options;
  checkRange('cubicTimesteps', 0, tMax, discrete);
  return {
    name: `cubic(1 - u^3) * ${tMax}`,
    sample: drawing((n, rng) =>
      Array.from({ length: n }, () => {
        const u = rng();
        const t = (1 - u * u * u) * tMax;
        return discrete ? Math.min(Math.floor(t), tMax) : t;
      }),
    ),
  };
}

/**
 * Logit-normal (Esser et al. 2024, SD3 Sec. 3.1): `t = min + (max - min) sigmoid(mean + std z)`,
 * z ~ N(0, 1). @default mean 0, std 1, on [0, 1]
 */
export function logitNormalTimesteps(options: { mean?: number; std?: number; min?: number; max?: number } = {}): TimestepSampler {
  const { mean = 0, std = 1, min = 0, max = 1 } = options;
  checkRange('logitNormalTimesteps', min, max, false);
  if (!(std > 0)) throw new ConfigError('logitNormalTimesteps.std', std, 'a number > 0');
  return {
    name: `logit-normal(${mean}, ${std})`,
    sample: drawing((n, rng) => Array.from({ length: n }, () => min + (max - min) / (1 + Math.exp(-(mean + std * normalValue(rng)))))),
  };
}

/** Uniform choice from a list of times (key timesteps, a k-step generator's grid...). */
export interface DiscreteListSampler extends TimestepSampler {
  readonly values: readonly number[];
  /** Draws `n` indices into `values`. */
  sampleIndices(n: number, rng: RngSource): number[];
}

export function discreteListTimesteps(values: readonly number[], name = 'list'): DiscreteListSampler {
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) {
    throw new ConfigError('timesteps', values, 'a non-empty list of finite model times');
  }
  const sampleIndices = drawing((n, rng) => Array.from({ length: n }, () => Math.floor(rng() * values.length)));
  return {
    name: `${name}{${values.join(', ')}}`,
    values: [...values],
    sampleIndices,
    sample: (n, rng) => sampleIndices(n, rng).map((i) => values[i] as number),
  };
}
