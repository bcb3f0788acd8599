import * as tf from '@tensorflow/tfjs-core';

/** A per-sample coefficient: a plain number (same for the batch) or a `[B]` tensor. */
export type Coefficient = number | tf.Tensor;

/**
 * Reshapes a `[B]` coefficient to `[B, 1, ..., 1]` so it broadcasts against a rank-`rank` tensor
 * (k-diffusion's `append_dims`). Numbers pass through unchanged.
 */
export function appendDims(c: Coefficient, rank: number): Coefficient {
  if (typeof c === 'number') return c;
  if (c.rank === rank) return c;
  return tf.reshape(c, [c.shape[0] ?? 1, ...new Array<number>(rank - 1).fill(1)]);
}
