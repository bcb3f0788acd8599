/**
 * @file The per-sample L1 normaliser of DMD (ADM Eq. 5): `mean over non-batch axes of |a - b|`.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * `mean_{i != batch} |a - b|` per sample.
 * @param a,b `[B, ...]`, same shape
 * @returns `[B]`
 */
export function perSampleMeanAbs(a: tf.Tensor, b: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const B = a.shape[0] ?? 1;
    return tf.mean(tf.reshape(tf.abs(tf.sub(a, b)), [B, -1]), 1) as tf.Tensor1D;
  });
}

/** Reshapes a `[B]` tensor to `[B, 1, ..., 1]` of rank `rank` (broadcasts against `[B, ...]`). */
export function perSample(c: tf.Tensor, rank: number): tf.Tensor {
  return tf.reshape(c, [c.shape[0] ?? 1, ...new Array<number>(rank - 1).fill(1)]);
}
