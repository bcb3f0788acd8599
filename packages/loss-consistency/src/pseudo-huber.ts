/**
 * @file Per-sample distances used by consistency losses.
 *
 * Pseudo-Huber (iCT, Song & Dhariwal 2023, Sec. 3.3; used by OSV Eq. 7-8 and MCM Eq. 3):
 * `d(x, y) = sqrt(||x - y||_2^2 + c^2) - c`, with the norm taken over ALL non-batch axes of one
 * sample. iCT sets `c = 0.00054 sqrt(D)` (D = number of elements per sample), so that `c` keeps the
 * same size relative to `||x - y||` whatever the resolution. This is the paper-faithful default
 * here (`scaleCWithSqrtDim: true`, `huberC: 0.00054`).
 *
 * diffusers' LCM training scripts instead apply the pseudo-Huber function element-wise
 * (`mean(sqrt((x - y)^2 + c^2) - c)` with `c = 0.001`): a different function, not offered here.
 *
 * `l2`: the squared Euclidean distance `||x - y||_2^2` over all non-batch axes (CM Eq. 9 with
 * `d = l2^2`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, ShapeError } from '@fewstep/core';

/** The distances a consistency loss can use. */
export const CONSISTENCY_DISTANCES = ['pseudo-huber', 'l2'] as const;
export type ConsistencyDistance = (typeof CONSISTENCY_DISTANCES)[number];

/** Options of {@link consistencyDistance}. */
export interface DistanceOptions {
  /** Which distance. @default 'pseudo-huber' */
  distance?: ConsistencyDistance;
  /** Pseudo-Huber constant (`c`, or `c / sqrt(D)` when `scaleCWithSqrtDim`), > 0. @default 0.00054 */
  huberC?: number;
  /** iCT: use `c = huberC * sqrt(D)`, D the elements per sample. @default true */
  scaleCWithSqrtDim?: boolean;
}

/** Default pseudo-Huber constant per sqrt(dimension) (iCT Sec. 3.3). */
export const ICT_HUBER_C = 0.00054;

/** Elements per sample `D = prod(shape[1:])` of a `[B, ...]` tensor. */
export function elementsPerSample(x: tf.Tensor): number {
  return x.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** Throws a ConfigError for a bad distance option set. */
export function validateDistanceOptions(options: DistanceOptions): void {
  const distance = options.distance ?? 'pseudo-huber';
  if (!(CONSISTENCY_DISTANCES as readonly string[]).includes(distance)) {
    throw new ConfigError('distance', distance, `one of ${CONSISTENCY_DISTANCES.join(', ')}`, "use 'pseudo-huber' (iCT) or 'l2'");
  }
  const c = options.huberC ?? ICT_HUBER_C;
  if (!(Number.isFinite(c) && c > 0)) {
    throw new ConfigError('huberC', c, 'a finite number > 0', `use ${ICT_HUBER_C} (iCT, with scaleCWithSqrtDim) or 0.001`);
  }
}

function checkSameShape(x: tf.Tensor, y: tf.Tensor): void {
  if (x.shape.join(',') !== y.shape.join(',') || x.rank < 1) {
    throw new ShapeError('consistency distance inputs', x.shape, `[${y.shape.join(', ')}] (the other input's shape, rank >= 1)`, 'pass the prediction and the target with the same [B, ...] shape');
  }
}

/** Sum over all non-batch axes: `[B, ...]` to `[B]`. */
function sumPerSample(x: tf.Tensor): tf.Tensor {
  return x.rank === 1 ? x : tf.sum(x, Array.from({ length: x.rank - 1 }, (_, i) => i + 1));
}

/**
 * Squared Euclidean distance per sample.
 * @param x `[B, ...]`
 * @param y `[B, ...]`
 * @returns `[B]` `||x_b - y_b||^2`
 */
export function squaredL2Distance(x: tf.Tensor, y: tf.Tensor): tf.Tensor {
  checkSameShape(x, y);
  return tf.tidy(() => sumPerSample(tf.squaredDifference(x, y)));
}

/**
 * Pseudo-Huber distance per sample, `sqrt(||x_b - y_b||^2 + c^2) - c` (iCT).
 * @param x `[B, ...]`
 * @param y `[B, ...]`
 * @param c the constant actually used (already scaled by sqrt(D) if wanted), > 0
 * @returns `[B]`
 */
export function pseudoHuberDistance(x: tf.Tensor, y: tf.Tensor, c: number): tf.Tensor {
  checkSameShape(x, y);
  if (!(c > 0)) throw new ConfigError('c', c, 'a number > 0', 'use huberC * sqrt(D) (iCT) or a small constant');
  // Evaluated as s / (sqrt(s + c^2) + c), equal to sqrt(s + c^2) - c without float32 cancellation.
  return tf.tidy(() => {
    const s = sumPerSample(tf.squaredDifference(x, y));
    return tf.div(s, tf.add(tf.sqrt(tf.add(s, c * c)), c));
  });
}

/**
 * The configured distance per sample.
 * @param x `[B, ...]` prediction
 * @param y `[B, ...]` target
 * @returns `[B]`
 */
export function consistencyDistance(x: tf.Tensor, y: tf.Tensor, options: DistanceOptions = {}): tf.Tensor {
  validateDistanceOptions(options);
  if ((options.distance ?? 'pseudo-huber') === 'l2') return squaredL2Distance(x, y);
  const base = options.huberC ?? ICT_HUBER_C;
  const c = (options.scaleCWithSqrtDim ?? true) ? base * Math.sqrt(elementsPerSample(x)) : base;
  return pseudoHuberDistance(x, y, c);
}
