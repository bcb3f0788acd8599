import * as tf from '@tensorflow/tfjs-core';

/**
 * A one-input op with a hand-written gradient (`tf.customGrad`): `forward` returns the value and
 * the tensors to keep for the backward pass (only those are kept, not the forward's
 * intermediates); `backward(dy, saved)` returns `dL/dx`.
 */
export function unaryCustomGrad(
  forward: (x: tf.Tensor) => { value: tf.Tensor; saved: tf.Tensor[] },
  backward: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor,
): (x: tf.Tensor) => tf.Tensor {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const { value, saved } = forward(x);
    save(saved);
    return { value, gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) => tf.tidy(() => backward(dy, kept)) };
  });
  return (x) => op(x);
}
