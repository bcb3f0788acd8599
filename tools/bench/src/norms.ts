import * as tf from '@tensorflow/tfjs-core';

/**
 * Group normalisation (Wu & He 2018, eq. 1-3) of an NHWC activation, matching
 * `torch.nn.GroupNorm(groups, C, eps)`: statistics per (sample, group) over H·W·(C/groups),
 * biased variance, then a per-channel affine.
 *
 * Formulated with reshapes only (no transposes): `[N, H, W, C]` is viewed as
 * `[N, H·W, G, C/G]` and reduced over axes 1 and 3.
 *
 * @param x `[N, H, W, C]` (any rank ≥ 3 whose last axis is C and first is N)
 * @param gamma `[C]` scale, or null for none
 * @param beta `[C]` shift, or null for none
 * @returns same shape as x
 */
export function groupNorm(
  x: tf.Tensor,
  gamma: tf.Tensor | null,
  beta: tf.Tensor | null,
  groups: number,
  eps = 1e-5,
): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const n = shape[0] as number;
    const c = shape[shape.length - 1] as number;
    if (c % groups !== 0) throw new Error(`groupNorm: C=${c} is not divisible by groups=${groups}`);
    const spatial = x.size / (n * c);
    const cg = c / groups;
    const xg = tf.reshape(x, [n, spatial, groups, cg]);
    const mean = tf.mean(xg, [1, 3], true);
    const xc = tf.sub(xg, mean);
    const variance = tf.mean(tf.square(xc), [1, 3], true);
    let y = tf.mul(xc, tf.rsqrt(tf.add(variance, eps)));
    if (gamma) y = tf.mul(y, tf.reshape(gamma, [groups, cg]));
    if (beta) y = tf.add(y, tf.reshape(beta, [groups, cg]));
    return tf.reshape(y, shape);
  });
}

/**
 * Layer normalisation (Ba et al. 2016) over the last axis, matching
 * `torch.nn.LayerNorm(C, eps, elementwise_affine)` (biased variance).
 *
 * @param x `[..., C]`
 * @param gamma `[C]` scale, or null (no affine, as in DiT's adaLN blocks)
 * @param beta `[C]` shift, or null
 * @returns same shape as x
 */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor | null, beta: tf.Tensor | null, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const axis = x.rank - 1;
    const mean = tf.mean(x, axis, true);
    const xc = tf.sub(x, mean);
    const variance = tf.mean(tf.square(xc), axis, true);
    let y = tf.mul(xc, tf.rsqrt(tf.add(variance, eps)));
    if (gamma) y = tf.mul(y, gamma);
    if (beta) y = tf.add(y, beta);
    return y;
  });
}
