import * as tf from '@tensorflow/tfjs-core';

/**
 * A fully connected layer y = x·W + b, as `torch.nn.Linear` (whose weight is Wᵀ).
 * Uses `tf.fused.matMul` so the bias add runs inside the matMul kernel where the backend has one.
 *
 * @param x `[M, in]`
 * @param w `[in, out]`
 * @param b `[out]` or null
 * @returns `[M, out]`
 */
export function linear(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null): tf.Tensor {
  return tf.fused.matMul({
    a: x as tf.Tensor2D,
    b: w as tf.Tensor2D,
    ...(b ? { bias: b } : {}),
  });
}
