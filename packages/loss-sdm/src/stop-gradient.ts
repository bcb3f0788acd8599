/**
 * @file A stop-gradient for tfjs-core, which has no `StopGradient` kernel (the converter treats
 * TF's `StopGradient` as identity). `tf.customGrad` gives the forward value unchanged and a zero
 * backward, so `sg(x)` acts as a constant under `tf.grads` / `tf.variableGrads` even when `x` was
 * computed from the variables being differentiated.
 */
import * as tf from '@tensorflow/tfjs-core';

const zeroGrad = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/** `sg(x)`: the value of `x`, with a zero gradient. Same shape and dtype as `x`. */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return zeroGrad(x) as T;
}
