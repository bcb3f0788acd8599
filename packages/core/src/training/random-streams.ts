/**
 * @file Counter-based random streams (RELIABILITY.md P23): every random number the trainer hands
 * out is a function of `(runSeed, step, stream)`, never of how many numbers were drawn before,
 * so a run resumed at step k draws exactly what the uninterrupted run drew at step k.
 */
import * as tf from '@tensorflow/tfjs-core';
import { deriveSeed } from '../nn/seeded-random.js';
import { normalValues, seededRng, type SeededRng } from '../diffusion/rng.js';

/** Name of the scheme, recorded in checkpoints so a future change is detected. */
export const RANDOM_STREAM_SCHEME = 'fewstep-counter-v1';

/**
 * The 32-bit seed of stream `stream` at step `step` of a run seeded `seed`: FNV-1a + murmur3
 * finaliser over `step:<step>/<stream>` keyed by the seed (seed 0 is a valid seed).
 */
export function streamSeed(seed: number, step: number, stream: string): number {
  return deriveSeed(seed, `step:${step}/${stream}`);
}

/** A fresh {@link SeededRng} positioned at the start of `(seed, step, stream)`. */
export function streamRng(seed: number, step: number, stream: string): SeededRng {
  return seededRng(streamSeed(seed, step, stream));
}

/**
 * The random streams of one step of one phase. `rng(name)` returns the same generator for the same
 * name within the phase (draws continue), a different one for each `(step, phase/name)`.
 * Stream names are recorded (P23: "random streams registered").
 */
export class StepRandom {
  readonly #cache = new Map<string, SeededRng>();
  constructor(
    readonly seed: number,
    readonly step: number,
    /** Prefix of every stream name (the phase name). */
    readonly prefix: string,
    private readonly registry?: Set<string>,
  ) {}

  rng(stream: string): SeededRng {
    const full = this.prefix ? `${this.prefix}/${stream}` : stream;
    let r = this.#cache.get(full);
    if (!r) {
      r = streamRng(this.seed, this.step, full);
      this.#cache.set(full, r);
      this.registry?.add(full);
    }
    return r;
  }

  /** Standard-normal float32 tensor of `shape` (times `std`) from stream `stream` (drawn on the CPU). */
  normal(shape: readonly number[], stream: string, std = 1): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = normalValues(n, this.rng(stream));
    if (std !== 1) for (let i = 0; i < n; i++) v[i] = (v[i] as number) * std;
    return tf.tensor(v, [...shape], 'float32');
  }

  /** Float32 tensor of `shape` uniform on `[lo, hi)` from stream `stream`. */
  uniform(shape: readonly number[], stream: string, lo = 0, hi = 1): tf.Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const r = this.rng(stream);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * r();
    return tf.tensor(v, [...shape], 'float32');
  }
}
