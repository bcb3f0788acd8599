/**
 * @file Seeded randomness for the diffusion math. Every stochastic routine in `diffusion/` takes an
 * explicit {@link Rng} (never `Math.random`) so that runs are replayable on every backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError } from '../errors.js';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

/** Either an {@link Rng} or an integer seed for {@link seededRng}. */
export type RngSource = Rng | number;

/** A seeded {@link Rng} whose state can be saved and restored (exact resume). */
export interface SeededRng extends Rng {
  readonly seed: number;
  /** The 32-bit state; `setState(getState())` replays the stream from here. */
  getState(): number;
  setState(state: number): void;
}

/**
 * Mulberry32 (a 32-bit counter hashed by two multiply-xorshift rounds): fast, seedable,
 * platform-independent. Period 2^32, which is plenty for sampling noise and timesteps.
 */
export function seededRng(seed: number): SeededRng {
  if (!Number.isInteger(seed)) {
    throw new ConfigError('seed', seed, 'an integer', 'pass an integer seed, e.g. 7');
  }
  let state = seed >>> 0;
  const next = (() => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }) as SeededRng;
  Object.defineProperty(next, 'seed', { value: seed });
  next.getState = () => state;
  next.setState = (s: number) => {
    state = s >>> 0;
  };
  return next;
}

/** Returns `source` when it is already an {@link Rng}, else a {@link seededRng} of that seed. */
export function toRng(source: RngSource): Rng {
  return typeof source === 'function' ? source : seededRng(source);
}

/** `n` standard-normal values (Box-Muller, both outputs used), as float32. */
export function normalValues(n: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng())); // 1 - u lies in (0, 1]: no log(0)
    const theta = 2 * Math.PI * rng();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/** One standard-normal number. */
export function normalValue(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** A standard-normal float32 tensor of `shape` (times `std`), drawn from `rng` on the CPU. */
export function randomNormal(shape: readonly number[], rng: Rng, std = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = normalValues(n, rng);
  if (std !== 1) for (let i = 0; i < n; i++) v[i] = (v[i] as number) * std;
  return tf.tensor(v, [...shape], 'float32');
}
