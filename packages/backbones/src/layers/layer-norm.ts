import * as tf from '@tensorflow/tfjs-core';
import type { ParamScope } from '@fewstep/core';
import { unaryCustomGrad } from './unary-custom-grad.js';

/**
 * `(x - mean) / sqrt(var + eps)` with the statistics over `axes` (kept), and a hand-written
 * gradient that keeps only `x_hat` and `1 / sigma`:
 * `dx = (dy - mean(dy) - x_hat * mean(dy * x_hat)) / sigma` (means over `axes`). The composite
 * version would keep about six full-size intermediates per normalisation for the backward pass.
 */
export function normalizeOver(x: tf.Tensor, axes: number[], eps: number): tf.Tensor {
  const op = unaryCustomGrad(
    (input) => {
      const [xhat, rstd] = tf.tidy(() => {
        const { mean, variance } = tf.moments(input, axes, true);
        const r = tf.rsqrt(tf.add(variance, eps));
        return [tf.mul(tf.sub(input, mean), r), r];
      });
      return { value: xhat!, saved: [xhat!, rstd!] };
    },
    (dy, [h, r]) => {
      const m1 = tf.mean(dy, axes, true);
      const m2 = tf.mean(tf.mul(dy, h!), axes, true);
      return tf.mul(tf.sub(tf.sub(dy, m1), tf.mul(h!, m2)), r!);
    },
  );
  return op(x);
}

/** LayerNorm statistics only, over the last axis: `(x - mean) / sqrt(var + eps)` (no affine). */
export function normalizeLastAxis(x: tf.Tensor, eps = 1e-5): tf.Tensor {
  return normalizeOver(x, [x.rank - 1], eps);
}

/**
 * LayerNorm (Ba et al. 2016) over the last axis, `[..., D]`, with `gamma`/`beta` (see
 * `initNorm`); with `scope` undefined it has no affine part (adaLN: the modulation supplies it).
 */
export function layerNorm(scope: ParamScope | undefined, x: tf.Tensor, eps = 1e-5): tf.Tensor {
  return tf.tidy(() => {
    const n = normalizeLastAxis(x, eps);
    return scope === undefined ? n : tf.add(tf.mul(n, scope.variable('gamma')), scope.variable('beta'));
  });
}
